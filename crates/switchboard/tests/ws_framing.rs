//! Framing edge cases from a hand-written client: fragments with control
//! frames in between, UTF-8 split across fragments, close frame rules.

mod common;

use common::*;
use switchboard::protocol::event::EventType;

const ECHO: &str = "[[endpoints]]\npath = \"/echo\"\nmode = \"echo\"\n";

#[tokio::test]
async fn ping_between_fragments_is_answered_and_the_message_survives() {
    let t = TestServer::start(ECHO).await;
    let mut raw = t.raw_upgrade("/echo", &[]).await;
    raw.send_frame(false, false, 0x1, b"before ", true).await;
    raw.send_frame(true, false, 0x9, b"mid", true).await;
    raw.send_frame(true, false, 0x0, b"after", true).await;
    let pong = raw.read_frame().await;
    assert_eq!((pong.opcode, pong.payload.as_slice()), (0xA, &b"mid"[..]));
    let echo = raw.read_frame().await;
    assert_eq!(
        (echo.opcode, echo.payload.as_slice()),
        (0x1, &b"before after"[..])
    );
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn utf8_split_across_fragments_is_valid() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    let text = "né ✓".as_bytes();
    // Cut inside the two-byte é and inside the three-byte ✓.
    raw.send_frame(false, false, 0x1, &text[..2], true).await;
    raw.send_frame(false, false, 0x0, &text[2..6], true).await;
    raw.send_frame(true, false, 0x0, &text[6..], true).await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message, Some(serde_json::json!("né ✓")));
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn continuation_without_a_message_is_a_protocol_error() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x0, b"orphan", true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    let error = t.next_event(EventType::Error).await;
    assert_eq!(error.error.as_ref().unwrap().kind, "protocol");
    t.server.shutdown().await;
}

#[tokio::test]
async fn new_message_inside_a_fragmented_one_is_a_protocol_error() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(false, false, 0x1, b"part", true).await;
    raw.send_frame(true, false, 0x1, b"new", true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    t.server.shutdown().await;
}

#[tokio::test]
async fn oversized_or_fragmented_control_frames_are_protocol_errors() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x9, &[b'p'; 126], true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;

    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(false, false, 0x9, b"ping", true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    t.server.shutdown().await;
}

#[tokio::test]
async fn client_close_codes_are_checked() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    // 1005 may never be sent on the wire.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x8, &1005u16.to_be_bytes(), true)
        .await;
    assert_eq!(raw.read_close().await.0, 1002);
    drop(raw);
    t.next_event(EventType::Disconnect).await;

    // A one-byte close payload is malformed.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x8, &[0x03], true).await;
    assert_eq!(raw.read_close().await.0, 1002);
    drop(raw);
    t.next_event(EventType::Disconnect).await;

    // A reason that is not UTF-8 is invalid payload.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"\xff\xfe");
    raw.send_frame(true, false, 0x8, &payload, true).await;
    assert_eq!(raw.read_close().await.0, 1007);
    drop(raw);
    t.next_event(EventType::Disconnect).await;

    // A valid close is echoed with its code, and reported as the client's.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    let mut payload = 3001u16.to_be_bytes().to_vec();
    payload.extend_from_slice("done ✓".as_bytes());
    raw.send_frame(true, false, 0x8, &payload, true).await;
    assert_eq!(raw.read_close().await.0, 3001);
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!(
        (d.code, d.reason.as_str(), d.initiator.as_str()),
        (3001, "done ✓", "client")
    );
    drop(raw);

    // An empty close is reported as 1005 and answered with 1000.
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x8, &[], true).await;
    assert_eq!(raw.read_close().await.0, 1000);
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.disconnect.as_ref().unwrap().code, 1005);
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn data_after_the_clients_close_is_ignored() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut raw = t.raw_upgrade("/ws", &[]).await;
    raw.send_frame(true, false, 0x1, b"counted", true).await;
    raw.send_frame(true, false, 0x8, &1000u16.to_be_bytes(), true)
        .await;
    raw.send_frame(true, false, 0x1, b"too late", true).await;
    assert_eq!(raw.read_close().await.0, 1000);
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.disconnect.as_ref().unwrap().messages_in, 1);
    drop(raw);
    t.server.shutdown().await;
}
