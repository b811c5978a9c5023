//! In-process graceful shutdown: the notice, close 1001 to every client,
//! disconnect events, and the report.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use switchboard::protocol::event::EventType;

const WITH_NOTICE: &str = r#"
[server]
bind = "127.0.0.1:0"
shutdown_notice = "server restarting, please reconnect"
drain_timeout_ms = 5000

[[endpoints]]
path = "/a"
[[endpoints]]
path = "/b"
mode = "echo"
"#;

#[tokio::test]
async fn clients_get_the_notice_then_1001_and_shutdown_returns() {
    let mut t = TestServer::start(WITH_NOTICE).await;
    let mut a = t.connect("/a").await;
    t.next_event(EventType::Connect).await;
    let mut b = t.connect("/b").await;

    let TestServer {
        server, mut events, ..
    } = t;
    let shutdown = tokio::spawn(server.shutdown());

    for client in [&mut a, &mut b] {
        assert_eq!(
            next_message(client).await.to_text().unwrap(),
            "server restarting, please reconnect"
        );
        assert_eq!(
            expect_close_handshake(client).await,
            (1001, "server shutting down".to_owned())
        );
    }
    let report = tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shutdown returns in time")
        .expect("shutdown task");
    assert_eq!(report.notified, 2);
    assert!(report.drained, "{report:?}");
    assert!(report.took < Duration::from_secs(5), "{report:?}");

    // The raw endpoint's client got a disconnect event from the server with 1001;
    // the subscription ends once the sinks are shut down.
    let mut disconnects = Vec::new();
    while let Some(event) = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("event stream ends in time")
    {
        if event.event == EventType::Disconnect {
            disconnects.push(event);
        }
    }
    assert!(!disconnects.is_empty());
    for event in &disconnects {
        let info = event.disconnect.as_ref().unwrap();
        assert_eq!(info.code, 1001, "{event:?}");
        assert_eq!(info.initiator, "server", "{event:?}");
        assert_eq!(info.reason, "server shutting down");
    }
}

#[tokio::test]
async fn without_a_notice_the_close_frame_comes_first() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/a\"\n").await;
    let mut a = t.connect("/a").await;
    t.next_event(EventType::Connect).await;
    let shutdown = tokio::spawn(t.server.shutdown());
    // expect_close would skip data messages; the very first message must be the close.
    match next_message(&mut a).await {
        tokio_tungstenite::tungstenite::Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001);
        }
        other => panic!("expected the close frame first, got {other:?}"),
    }
    // Keep reading so the close reply goes out and the drain completes.
    tokio::time::timeout(WAIT, async { while let Some(Ok(_)) = a.next().await {} })
        .await
        .expect("connection ends");
    let report = tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
    assert_eq!(report.notified, 1);
    assert!(report.drained);
    assert!(report.took < Duration::from_secs(2), "{report:?}");
}

#[tokio::test]
async fn shutdown_with_no_clients_is_quick_and_stops_the_listener() {
    let t = TestServer::start("[[endpoints]]\npath = \"/a\"\n").await;
    let addr = t.server.local_addr();
    let report = tokio::time::timeout(WAIT, t.server.shutdown())
        .await
        .expect("shutdown in time");
    assert_eq!(report.notified, 0);
    assert!(report.drained);
    assert!(report.took < Duration::from_secs(2), "{report:?}");
    // The port no longer accepts connections.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener still accepting after shutdown");
}
