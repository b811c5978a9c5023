//! Per-connection limits: max_connections (1013), max_message_size (1009),
//! invalid UTF-8 (1007) and protocol violations (1002), each with its
//! `error` event.

mod common;

use common::*;
use futures_util::SinkExt;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const CAPACITY_SERIES: &str =
    r#"switchboard_connections_rejected_total{endpoint="/ws",reason="capacity"}"#;

#[tokio::test]
async fn extra_client_is_closed_with_1013_and_counted() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_connections = 1\n").await;
    let mut first = t.connect("/ws").await;
    let first_id = t.next_event(EventType::Connect).await.connection.id.clone();

    // The upgrade itself succeeds; the refusal is a close frame.
    let extra = t.connect("/ws").await;
    assert_eq!(
        close_handshake(extra).await,
        (1013, "server at capacity".to_owned())
    );
    let error = t.next_event(EventType::Error).await;
    let info = error.error.as_ref().unwrap();
    assert_eq!(info.kind, "capacity");
    assert_eq!(info.close_code, Some(1013));
    assert_ne!(error.connection.id, first_id);
    assert_eq!(metric(&t.metrics().await, CAPACITY_SERIES), 1);

    // A refused client never becomes a connection.
    let (_, body) = t.api("connections", serde_json::json!({})).await;
    assert_eq!(body["result"]["total"], 1, "{body}");

    // Once the first client leaves, a new one is accepted.
    first.close(None).await.unwrap();
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.connection.id, first_id);
    let mut next = t.connect("/ws").await;
    let connect = t.next_event(EventType::Connect).await;
    assert_ne!(connect.connection.id, first_id);
    send_text(&mut next, "still here").await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.connection.id, connect.connection.id);
    assert_eq!(metric(&t.metrics().await, CAPACITY_SERIES), 1);
    drop(next);
    t.server.shutdown().await;
}

#[tokio::test]
async fn message_at_the_limit_passes_and_one_byte_more_closes_with_1009() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_message_size = 1024\n").await;
    let mut client = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;

    let exact = "a".repeat(1024);
    send_text(&mut client, &exact).await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(
        message.message.as_ref().unwrap().as_str(),
        Some(exact.as_str())
    );

    send_text(&mut client, &"b".repeat(1025)).await;
    let (code, _) = close_handshake(client).await;
    assert_eq!(code, 1009);
    let error = t.next_event(EventType::Error).await;
    let info = error.error.as_ref().unwrap();
    assert_eq!(info.kind, "message_too_big");
    assert_eq!(info.close_code, Some(1009));
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1009, "server"));
    assert_eq!(d.messages_in, 1, "the oversized message is not counted");
    t.server.shutdown().await;
}

#[tokio::test]
async fn oversized_fragmented_message_closes_with_1009() {
    // The limit applies to the reassembled message, not to each frame.
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_message_size = 1024\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(raw.status, 101);
    raw.send_frame(false, false, 0x1, &[b'x'; 600], true).await;
    raw.send_frame(true, false, 0x0, &[b'y'; 600], true).await;
    assert_eq!(raw.read_close().await.0, 1009);
    raw.answer_close(1009).await;
    let error = t.next_event(EventType::Error).await;
    assert_eq!(error.error.as_ref().unwrap().kind, "message_too_big");
    t.server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_text_closes_with_1007() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(raw.status, 101);
    raw.send_frame(true, false, 0x1, b"ok \xff\xfe", true).await;
    assert_eq!(raw.read_close().await.0, 1007);
    raw.answer_close(1007).await;
    let error = t.next_event(EventType::Error).await;
    let info = error.error.as_ref().unwrap();
    assert_eq!(info.kind, "invalid_payload");
    assert_eq!(info.close_code, Some(1007));
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1007, "server"));
    assert_eq!(d.messages_in, 0);
    t.server.shutdown().await;
}

#[tokio::test]
async fn unmasked_client_frame_closes_with_1002() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(raw.status, 101);
    raw.send_frame(true, false, 0x1, b"hello", false).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    let error = t.next_event(EventType::Error).await;
    let info = error.error.as_ref().unwrap();
    assert_eq!(info.kind, "protocol");
    assert_eq!(info.close_code, Some(1002));
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.disconnect.as_ref().unwrap().code, 1002);
    t.server.shutdown().await;
}

#[tokio::test]
async fn reserved_opcode_closes_with_1002() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x3, b"?", true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    assert_eq!(
        t.next_event(EventType::Error)
            .await
            .error
            .as_ref()
            .unwrap()
            .kind,
        "protocol"
    );
    t.server.shutdown().await;
}

#[tokio::test]
async fn valid_traffic_after_a_limit_is_unaffected_on_other_connections() {
    // One client's violation closes only that client.
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_message_size = 200\n").await;
    let mut good = t.connect("/ws").await;
    let good_id = t.next_event(EventType::Connect).await.connection.id.clone();
    let mut bad = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    bad.send(Message::binary(vec![0u8; 201])).await.unwrap();
    assert_eq!(close_handshake(bad).await.0, 1009);
    t.next_event(EventType::Disconnect).await;
    send_text(&mut good, "fine").await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.connection.id, good_id);
    drop(good);
    t.server.shutdown().await;
}
