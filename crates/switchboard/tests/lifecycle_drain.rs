//! Draining: readiness fails and new upgrades are refused; a client that
//! never answers the close does not hold shutdown past `drain_timeout_ms`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

async fn get(t: &TestServer, path: &str) -> (u16, serde_json::Value) {
    let response = tokio::time::timeout(WAIT, t.http.get(t.http_url(path)).send())
        .await
        .expect("answer in time")
        .expect("reachable");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn start_draining_fails_readiness_and_refuses_upgrades() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut open = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    assert_eq!(get(&t, "/readyz").await.0, 200);

    t.server.start_draining();
    let (status, body) = get(&t, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], 108, "{body}");
    // Liveness is unaffected: the process is fine, just leaving.
    assert_eq!(get(&t, "/healthz").await.0, 200);

    let refused = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "switchboard_connections_rejected_total{endpoint=\"/ws\",reason=\"draining\"}"
        ),
        1
    );

    // Connections already open keep working until shutdown closes them.
    let (_, body) = t
        .api("send", json!({"connection": id, "text": "still here"}))
        .await;
    assert_eq!(body["result"]["delivered"], 1);
    assert_eq!(
        next_message(&mut open).await.to_text().unwrap(),
        "still here"
    );

    let shutdown = tokio::spawn(t.server.shutdown());
    assert_eq!(expect_close_handshake(&mut open).await.0, 1001);
    let report = tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
    assert_eq!(report.notified, 1);
}

#[tokio::test]
async fn during_shutdown_readiness_and_upgrades_get_503() {
    let toml = "[server]\nbind = \"127.0.0.1:0\"\ndrain_timeout_ms = 10000\n[[endpoints]]\npath = \"/ws\"\n";
    let mut t = TestServer::start(toml).await;
    // A client that reads the close frame but never answers it keeps the drain open.
    let mut stuck = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(stuck.status, 101);
    t.next_event(EventType::Connect).await;

    let TestServer { server, http, .. } = t;
    let addr = server.local_addr();
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(
        stuck.read_close().await,
        (1001, "server shutting down".to_owned())
    );

    // Shutdown has begun (the close frame is sent after draining starts).
    let response = http
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let late = RawClient::upgrade(addr, "/ws", &[]).await;
    assert_eq!(late.status, 503, "{}", late.body);
    assert!(!shutdown.is_finished());

    // Once the client goes away, the drain completes well before its deadline.
    drop(stuck);
    let report = tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
    assert!(report.drained, "{report:?}");
    assert!(report.took < Duration::from_secs(5), "{report:?}");
}

#[tokio::test]
async fn an_unresponsive_client_is_dropped_at_the_drain_deadline() {
    let toml =
        "[server]\nbind = \"127.0.0.1:0\"\ndrain_timeout_ms = 300\n[[endpoints]]\npath = \"/ws\"\n";
    let mut t = TestServer::start(toml).await;
    // Never reads and never answers: only the deadline can end it.
    let silent = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(silent.status, 101);
    t.next_event(EventType::Connect).await;
    let mut polite = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;

    let TestServer {
        server, mut events, ..
    } = t;
    let shutdown = tokio::spawn(server.shutdown());
    assert_eq!(expect_close_handshake(&mut polite).await.0, 1001);
    let report = tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shutdown finishes despite the silent client")
        .unwrap();
    assert_eq!(report.notified, 2);
    assert!(
        !report.drained,
        "the silent client never closed: {report:?}"
    );
    assert!(report.took >= Duration::from_millis(300), "{report:?}");
    // Well under the 5 s close handshake timeout: the deadline cut it short.
    assert!(report.took < Duration::from_millis(3000), "{report:?}");

    // Both connections still produced their disconnect events before the sinks closed.
    let mut disconnects = 0;
    while let Some(event) = tokio::time::timeout(WAIT, events.recv()).await.unwrap() {
        if event.event == EventType::Disconnect {
            assert_eq!(
                event.disconnect.as_ref().unwrap().initiator,
                "server",
                "{event:?}"
            );
            disconnects += 1;
        }
    }
    assert_eq!(disconnects, 2);
    drop(silent);
}
