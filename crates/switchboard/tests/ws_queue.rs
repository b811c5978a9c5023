//! The bounded outbound queue: a client that does not read is closed with
//! 1008 (overflow = "close") or loses messages but stays (overflow = "drop").
//! The kernel's socket buffers absorb some MB first, so the tests keep
//! sending until the queue reports the overflow, bounded by a count.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const CHUNK: usize = 64 * 1024;
/// 2000 × 64 KiB = 125 MiB: far beyond any socket buffers, so reaching the
/// bound means the queue never pushed back.
const MAX_SENDS: usize = 2000;

fn endpoint(overflow: &str) -> String {
    format!(
        "[[endpoints]]\npath = \"/ws\"\noutbound_queue_bytes = 262144\noverflow = \"{overflow}\"\n"
    )
}

/// A numbered message of exactly CHUNK bytes.
fn chunk(n: usize) -> String {
    let head = format!("{n:08}:");
    head.clone() + &"x".repeat(CHUNK - head.len())
}

/// Sends numbered chunks to `id` until one is not delivered. Returns how
/// many were delivered before that.
async fn send_until_refused(t: &TestServer, id: &str) -> usize {
    for n in 0..MAX_SENDS {
        let (status, body) = t
            .api("send", json!({"connection": id, "text": chunk(n)}))
            .await;
        assert_eq!(status, 200, "{body}");
        let result = &body["result"];
        if result["dropped"].as_u64() > Some(0) {
            assert_eq!(result["delivered"], 0, "{body}");
            return n;
        }
        assert_eq!(result["delivered"], 1, "{body}");
    }
    panic!("{MAX_SENDS} messages of {CHUNK} bytes queued for a client that never reads");
}

#[tokio::test]
async fn slow_consumer_is_closed_with_1008() {
    let mut t = TestServer::start(&endpoint("close")).await;
    let client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();

    let delivered = send_until_refused(&t, &id).await;
    assert!(delivered > 0);
    // Once the client reads, it gets what fit, then the close.
    let (code, reason) = close_handshake(client).await;
    assert_eq!(
        (code, reason.as_str()),
        (1008, "slow consumer: outbound queue full")
    );
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1008, "server"));
    assert!(d.messages_out as usize <= delivered, "{d:?}");

    let metrics = t.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_queue_overflow_closes_total{endpoint="/ws"}"#
        ),
        1
    );
    // The connection is gone from the hub.
    let (_, body) = t.api("connections", json!({})).await;
    assert_eq!(body["result"]["total"], 0, "{body}");
    t.server.shutdown().await;
}

#[tokio::test]
async fn drop_policy_discards_messages_and_keeps_the_connection() {
    let mut t = TestServer::start(&endpoint("drop")).await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();

    let delivered = send_until_refused(&t, &id).await;
    // A few more are dropped too while the client still does not read.
    let mut dropped = 1;
    for n in delivered + 1..delivered + 4 {
        let (_, body) = t
            .api("send", json!({"connection": id, "text": chunk(n)}))
            .await;
        dropped += body["result"]["dropped"].as_u64().unwrap();
    }
    assert!(dropped >= 2, "the queue is still full: {dropped}");
    let metrics = t.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_queue_dropped_total{endpoint="/ws"}"#
        ),
        dropped
    );

    // The client reads every delivered message, in order, each whole.
    let mut last = None;
    let mut received = 0;
    while received < delivered {
        let msg = next_message(&mut client).await;
        let text = msg.to_text().unwrap();
        assert_eq!(text.len(), CHUNK);
        let n: usize = text[..8].parse().unwrap();
        assert!(last < Some(n), "out of order: {n} after {last:?}");
        last = Some(n);
        received += 1;
    }
    // Still open: a new message goes through.
    let (_, body) = t
        .api("send", json!({"connection": id, "text": "after"}))
        .await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    assert_eq!(next_message(&mut client).await, Message::text("after"));
    let (_, body) = t.api("connections", json!({})).await;
    assert_eq!(body["result"]["total"], 1, "{body}");
    t.no_event(EventType::Disconnect, std::time::Duration::from_millis(50))
        .await;
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn write_delay_holds_messages_and_sends_them_together_in_order() {
    let config = "[[endpoints]]\npath = \"/ws\"\nwrite_delay_ms = 300\n";
    let mut t = TestServer::start(config).await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();

    let sent = std::time::Instant::now();
    for n in 0..5 {
        let (_, body) = t
            .api("send", json!({"connection": id, "text": format!("m{n}")}))
            .await;
        assert_eq!(body["result"]["delivered"], 1, "{body}");
    }
    let first = next_message(&mut client).await;
    let waited = sent.elapsed();
    assert_eq!(first, Message::text("m0"));
    assert!(
        waited >= std::time::Duration::from_millis(250),
        "the first message waited only {waited:?}"
    );
    // The rest came in the same write: already here, in order.
    for n in 1..5 {
        let next = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            next_message(&mut client),
        )
        .await
        .expect("held messages arrive together");
        assert_eq!(next, Message::text(format!("m{n}")));
    }
    drop(client);
    t.server.shutdown().await;
}

/// Messages sent while the client is not reading fill the socket: some go
/// straight to it, one is cut where the socket filled, the rest wait in the
/// queue. The client must still get every byte of each, in order.
#[tokio::test]
async fn messages_written_in_part_arrive_whole_and_in_order() {
    let config = "[[endpoints]]\npath = \"/ws\"\noutbound_queue_bytes = 67108864\n";
    let mut t = TestServer::start(config).await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    const COUNT: usize = 300; // 300 × 64 KiB: beyond the socket buffers
    for n in 0..COUNT {
        let (_, body) = t
            .api("send", json!({"connection": id, "text": chunk(n)}))
            .await;
        assert_eq!(body["result"]["delivered"], 1, "{body}");
    }
    for n in 0..COUNT {
        assert_eq!(next_message(&mut client).await, Message::text(chunk(n)));
    }
    drop(client);
    t.server.shutdown().await;
}
