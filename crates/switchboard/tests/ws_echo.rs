//! Echo mode: each message comes back to its sender as it was sent, and
//! only to its sender.

mod common;

use common::*;
use futures_util::SinkExt;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const ECHO: &str = "[[endpoints]]\npath = \"/echo\"\nmode = \"echo\"\n";

#[tokio::test]
async fn echoes_text_as_text_and_binary_as_binary() {
    let t = TestServer::start(ECHO).await;
    let mut client = t.connect("/echo").await;

    send_text(&mut client, "héllo ✓").await;
    assert_eq!(next_message(&mut client).await, Message::text("héllo ✓"));

    let bytes: Vec<u8> = (0..=255).collect();
    client.send(Message::binary(bytes.clone())).await.unwrap();
    assert_eq!(next_message(&mut client).await, Message::binary(bytes));

    // JSON text stays text, byte for byte.
    let json = r#"{ "spaced" : [1, 2] }"#;
    send_text(&mut client, json).await;
    assert_eq!(next_message(&mut client).await, Message::text(json));

    // Empty messages echo too.
    client.send(Message::binary(Vec::new())).await.unwrap();
    assert_eq!(next_message(&mut client).await, Message::binary(Vec::new()));
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn echoes_in_order_including_large_and_fragmented_messages() {
    let t = TestServer::start(ECHO).await;
    let mut client = t.connect("/echo").await;
    let big = "z".repeat(300_000);
    for i in 0..20 {
        send_text(&mut client, &format!("msg {i}")).await;
    }
    send_text(&mut client, &big).await;
    for i in 0..20 {
        assert_eq!(
            next_message(&mut client).await,
            Message::text(format!("msg {i}"))
        );
    }
    assert_eq!(next_message(&mut client).await.to_text().unwrap(), big);
    drop(client);

    // A message sent in fragments comes back whole.
    let mut raw = t.raw_upgrade("/echo", &[]).await;
    raw.send_frame(false, false, 0x1, b"frag", true).await;
    raw.send_frame(false, false, 0x0, b"men", true).await;
    raw.send_frame(true, false, 0x0, b"ted", true).await;
    let frame = raw.read_frame().await;
    assert_eq!((frame.fin, frame.opcode), (true, 0x1));
    assert_eq!(frame.payload, b"fragmented");
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn echo_goes_only_to_the_sender_and_emits_no_message_events() {
    let mut t = TestServer::start(ECHO).await;
    let mut a = t.connect("/echo").await;
    let mut b = t.connect("/echo").await;
    t.next_event(EventType::Connect).await;
    t.next_event(EventType::Connect).await;
    send_text(&mut a, "for a").await;
    send_text(&mut b, "for b").await;
    assert_eq!(next_message(&mut a).await, Message::text("for a"));
    assert_eq!(next_message(&mut b).await, Message::text("for b"));
    t.no_event(EventType::Message, std::time::Duration::from_millis(100))
        .await;
    drop((a, b));
    t.server.shutdown().await;
}

/// A connection with no message for a while waits without its loop's
/// future (transport's `QUIET_AFTER`, 100 ms) and rebuilds it on the next
/// event: a message, a fragment of one, a ping.
#[tokio::test]
async fn a_connection_quiet_for_a_while_still_answers_everything() {
    let t = TestServer::start(ECHO).await;
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(300));
    let mut raw = t.raw_upgrade("/echo", &[]).await;
    for round in 0..3 {
        let text = format!("after a pause {round}");
        raw.send_frame(true, false, 0x1, text.as_bytes(), true)
            .await;
        let frame = raw.read_frame().await;
        assert_eq!((frame.opcode, frame.payload), (0x1, text.into_bytes()));
        pause().await;
    }
    // A message whose fragments arrive with quiet waits between them.
    raw.send_frame(false, false, 0x1, b"slow", true).await;
    pause().await;
    raw.send_frame(true, false, 0x0, b"ly", true).await;
    let frame = raw.read_frame().await;
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (0x1, &b"slowly"[..])
    );
    pause().await;
    raw.send_frame(true, false, 0x9, b"still there?", true)
        .await;
    let frame = raw.read_frame().await;
    assert_eq!(
        (frame.opcode, frame.payload.as_slice()),
        (0xA, &b"still there?"[..])
    );
    drop(raw);
    t.server.shutdown().await;
}
