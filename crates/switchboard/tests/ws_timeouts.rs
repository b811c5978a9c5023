//! Connection timers: idle_timeout_ms and max_lifetime_ms, both closing
//! with 1001.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn idle_client_is_closed_with_1001() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nidle_timeout_ms = 150\n").await;
    let started = Instant::now();
    let client = t.connect("/ws").await;
    let (code, reason) = close_handshake(client).await;
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    assert!(started.elapsed() >= Duration::from_millis(150));
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.reason.as_str()), (1001, "idle timeout"));
    assert_eq!(d.initiator, "server");
    t.server.shutdown().await;
}

#[tokio::test]
async fn data_messages_reset_the_idle_timer() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nidle_timeout_ms = 300\n").await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    // Well over the timeout in total, each gap well under it. Every message
    // is confirmed by its event, so the server has seen it.
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(700) {
        send_text(&mut client, "still here").await;
        t.next_event(EventType::Message).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent >= 5);
    // The connection is open: a server message still arrives.
    let (_, body) = t
        .api(
            "send",
            serde_json::json!({"connection": id, "text": "open"}),
        )
        .await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    assert_eq!(next_message(&mut client).await.to_text().unwrap(), "open");
    // Once the client goes quiet, the timer fires.
    let (code, reason) = close_handshake(client).await;
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    t.server.shutdown().await;
}

#[tokio::test]
async fn pings_do_not_count_as_activity() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nidle_timeout_ms = 200\n").await;
    let mut client = t.connect("/ws").await;
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(40));
    let close = tokio::time::timeout(WAIT, async {
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    // The send fails only once the server has closed.
                    let _ = client.send(Message::Ping("alive".into())).await;
                }
                msg = futures_util::StreamExt::next(&mut client) => match msg {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return (u16::from(frame.code), frame.reason.to_string())
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("expected a close frame, got {other:?}"),
                },
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(close, (1001, "idle timeout".to_owned()));
    assert!(started.elapsed() >= Duration::from_millis(200));
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn busy_client_is_closed_at_max_lifetime() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_lifetime_ms = 300\n").await;
    let started = Instant::now();
    let mut client = t.connect("/ws").await;
    // Activity does not extend the lifetime: keep sending until the close.
    let mut ticker = tokio::time::interval(Duration::from_millis(30));
    let close = tokio::time::timeout(WAIT, async {
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let _ = client.send(Message::text("busy")).await;
                }
                msg = futures_util::StreamExt::next(&mut client) => match msg {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return (u16::from(frame.code), frame.reason.to_string())
                    }
                    Some(Ok(_)) => continue,
                    other => panic!("expected a close frame, got {other:?}"),
                },
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(close, (1001, "max lifetime reached".to_owned()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    drop(client);
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1001, "server"));
    assert!(d.messages_in >= 3, "the client was busy: {d:?}");
    t.server.shutdown().await;
}

#[tokio::test]
async fn timers_disabled_by_default() {
    // With neither timer set, a silent client is not closed.
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let client = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    t.no_event(EventType::Disconnect, Duration::from_millis(300))
        .await;
    drop(client);
    t.next_event(EventType::Disconnect).await;
    t.server.shutdown().await;
}
