//! The `switchboard` binary end to end: events as JSON lines on stdout,
//! and SIGTERM / SIGINT drain the server and exit 0.

mod common;

use common::*;
use serde_json::Value;

const CONFIG: &str = r#"
[server]
bind = "127.0.0.1:0"
shutdown_notice = "bye"
drain_timeout_ms = 5000

[[endpoints]]
path = "/ws"
"#;

/// Starts the binary and returns it with the address from its
/// "switchboard listening on ADDR" line.
async fn start(file: &tempfile::NamedTempFile) -> (Bin, std::net::SocketAddr) {
    let mut bin = BinCommand::new(&["--config", file.path().to_str().unwrap()]).spawn();
    let line = bin
        .stderr_line_containing("switchboard listening on ")
        .await;
    let addr = line
        .rsplit("switchboard listening on ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("address in {line:?}: {e}"));
    (bin, addr)
}

async fn next_event_line(bin: &mut Bin) -> Value {
    let line = bin.next_stdout_line().await.expect("stdout open");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
}

#[tokio::test]
async fn sigterm_drains_clients_and_exits_zero() {
    let file = config_file(CONFIG);
    let (mut bin, addr) = start(&file).await;

    let (mut client, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
    )
    .await
    .expect("connect in time")
    .expect("handshake");
    let connect = next_event_line(&mut bin).await;
    assert_eq!(connect["event"], "connect");
    let id = connect["connection"]["id"].as_str().unwrap().to_owned();

    send_text(&mut client, r#"{"temperature":23.5}"#).await;
    let message = next_event_line(&mut bin).await;
    assert_eq!(message["event"], "message");
    assert_eq!(message["connection"]["id"], id.as_str());
    assert_eq!(message["message"], serde_json::json!({"temperature": 23.5}));

    bin.signal("-TERM");
    assert_eq!(next_message(&mut client).await.to_text().unwrap(), "bye");
    assert_eq!(
        expect_close_handshake(&mut client).await,
        (1001, "server shutting down".to_owned())
    );

    let status = bin.wait_exit().await;
    assert_eq!(status.code(), Some(0), "stderr: {:?}", bin.stderr_seen);

    // stdout carries only JSON events, and the disconnect was flushed before exit.
    let events: Vec<Value> = bin
        .stdout_seen
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let disconnect = events
        .iter()
        .find(|e| e["event"] == "disconnect")
        .unwrap_or_else(|| panic!("no disconnect event on stdout: {:?}", bin.stdout_seen));
    assert_eq!(disconnect["connection"]["id"], id.as_str());
    assert_eq!(disconnect["disconnect"]["code"], 1001);
    assert_eq!(disconnect["disconnect"]["initiator"], "server");
    assert_eq!(disconnect["disconnect"]["messages_in"], 1);
    assert_eq!(events.len(), 3, "connect, message, disconnect: {events:?}");
}

#[tokio::test]
async fn sigint_without_clients_exits_zero() {
    let file = config_file(CONFIG);
    let (mut bin, addr) = start(&file).await;
    // Serving before the signal.
    let response = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    bin.signal("-INT");
    let status = bin.wait_exit().await;
    assert_eq!(status.code(), Some(0), "stderr: {:?}", bin.stderr_seen);
    assert!(
        bin.stdout_seen.is_empty(),
        "no events, no output: {:?}",
        bin.stdout_seen
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port still open after exit"
    );
}

#[tokio::test]
async fn a_second_signal_stops_waiting_for_clients() {
    // A drain deadline far beyond the test's bound: only the second signal can end it.
    let file = config_file(
        "[server]\nbind = \"127.0.0.1:0\"\ndrain_timeout_ms = 600000\n[[endpoints]]\npath = \"/ws\"\n",
    );
    let (mut bin, addr) = start(&file).await;
    // Reads the close frame but never answers it.
    let mut stuck = RawClient::upgrade(addr, "/ws", &[]).await;
    assert_eq!(stuck.status, 101);
    assert_eq!(next_event_line(&mut bin).await["event"], "connect");

    bin.signal("-TERM");
    assert_eq!(stuck.read_close().await.0, 1001);
    // Draining now; the process would wait for the client for ten minutes.
    bin.signal("-TERM");
    let status = bin.wait_exit().await;
    assert_eq!(status.code(), Some(1), "stderr: {:?}", bin.stderr_seen);
    drop(stuck);
}
