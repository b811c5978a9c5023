//! permessage-deflate, kept light (the Autobahn suite covers it in depth):
//! what each `compression` mode negotiates, and compressed frames written by
//! hand in both directions.

mod common;

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use switchboard::protocol::event::EventType;

const OFFER: (&str, &str) = (
    "Sec-WebSocket-Extensions",
    "permessage-deflate; client_max_window_bits",
);

fn endpoint(mode: &str, compression: &str, extra: &str) -> String {
    format!("[[endpoints]]\npath = \"/ws\"\nmode = \"{mode}\"\ncompression = \"{compression}\"\n{extra}")
}

/// Compresses one message with `c` (RFC 7692 §7.2.1: sync flush, tail removed).
fn deflate(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 1024);
    let before = c.total_in();
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert_eq!((c.total_in() - before) as usize, data.len());
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// Inflates one message with `d` (the stripped tail put back).
fn inflate(d: &mut Decompress, data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    out
}

#[tokio::test]
async fn negotiation_per_mode() {
    let shared = TestServer::start(&endpoint("raw", "shared", "")).await;
    let raw = shared.raw_upgrade("/ws", &[OFFER]).await;
    assert_eq!(raw.status, 101);
    let ext = raw
        .header("sec-websocket-extensions")
        .expect("extension agreed");
    assert!(ext.starts_with("permessage-deflate"), "{ext}");
    assert!(ext.contains("server_no_context_takeover"), "{ext}");
    // A client that offers nothing gets nothing.
    let none = shared.raw_upgrade("/ws", &[]).await;
    assert_eq!(none.header("sec-websocket-extensions"), None);
    drop((raw, none));
    shared.server.shutdown().await;

    let dedicated = TestServer::start(&endpoint("raw", "dedicated", "")).await;
    let raw = dedicated.raw_upgrade("/ws", &[OFFER]).await;
    assert_eq!(
        raw.header("sec-websocket-extensions"),
        Some("permessage-deflate")
    );
    let asked = dedicated
        .raw_upgrade(
            "/ws",
            &[(
                "Sec-WebSocket-Extensions",
                "permessage-deflate; server_no_context_takeover",
            )],
        )
        .await;
    let ext = asked.header("sec-websocket-extensions").unwrap();
    assert!(ext.contains("server_no_context_takeover"), "{ext}");
    drop((raw, asked));
    dedicated.server.shutdown().await;

    let disabled = TestServer::start(&endpoint("raw", "disabled", "")).await;
    let raw = disabled.raw_upgrade("/ws", &[OFFER]).await;
    assert_eq!(raw.status, 101);
    assert_eq!(raw.header("sec-websocket-extensions"), None);
    drop(raw);
    disabled.server.shutdown().await;
}

#[tokio::test]
async fn configured_window_bits_are_announced() {
    let t = TestServer::start(&endpoint(
        "raw",
        "dedicated",
        "[endpoints.deflate]\nserver_max_window_bits = 10\nclient_max_window_bits = 11\n",
    ))
    .await;
    let raw = t.raw_upgrade("/ws", &[OFFER]).await;
    let ext = raw.header("sec-websocket-extensions").unwrap();
    assert!(ext.contains("server_max_window_bits=10"), "{ext}");
    assert!(ext.contains("client_max_window_bits=11"), "{ext}");
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn dedicated_echo_keeps_context_in_both_directions() {
    let t = TestServer::start(&endpoint("echo", "dedicated", "")).await;
    let mut raw = t.raw_upgrade("/ws", &[OFFER]).await;
    assert_eq!(raw.status, 101);
    let mut c = Compress::new(Compression::default(), false);
    let mut d = Decompress::new(false);
    let text = "the quick brown fox jumps over the lazy dog; ".repeat(10);
    for _ in 0..2 {
        raw.send_frame(true, true, 0x1, &deflate(&mut c, text.as_bytes()), true)
            .await;
        let frame = raw.read_frame().await;
        assert_eq!(
            (frame.opcode, frame.rsv1),
            (0x1, true),
            "compressed text echo"
        );
        assert!(frame.payload.len() < text.len());
        assert_eq!(inflate(&mut d, &frame.payload), text.as_bytes());
    }
    // Below the threshold (64 bytes by default) the echo is sent plain.
    raw.send_frame(true, true, 0x2, &deflate(&mut c, b"tiny"), true)
        .await;
    let frame = raw.read_frame().await;
    assert_eq!((frame.opcode, frame.rsv1), (0x2, false));
    assert_eq!(frame.payload, b"tiny");
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn shared_mode_compresses_each_message_on_its_own() {
    let mut t = TestServer::start(&endpoint("raw", "shared", "")).await;
    let mut raw = t.raw_upgrade("/ws", &[OFFER]).await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    let text = "{\"reading\":\"0123456789\"} ".repeat(20);
    let mut frames = Vec::new();
    for _ in 0..2 {
        let (_, body) = t
            .api("send", serde_json::json!({"connection": id, "text": text}))
            .await;
        assert_eq!(body["result"]["delivered"], 1, "{body}");
        let frame = raw.read_frame().await;
        assert!(frame.rsv1);
        // No context: a fresh inflater reads each message.
        assert_eq!(
            inflate(&mut Decompress::new(false), &frame.payload),
            text.as_bytes()
        );
        frames.push(frame.payload);
    }
    assert_eq!(
        frames[0], frames[1],
        "the same message compresses the same way"
    );

    // A compressed message from the client becomes an ordinary event.
    let mut c = Compress::new(Compression::default(), false);
    raw.send_frame(
        true,
        true,
        0x1,
        &deflate(&mut c, br#"{"zipped":true}"#),
        true,
    )
    .await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.message, Some(serde_json::json!({"zipped": true})));
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn max_message_size_applies_after_inflating() {
    let mut t = TestServer::start(&endpoint("raw", "dedicated", "max_message_size = 1024\n")).await;
    let mut raw = t.raw_upgrade("/ws", &[OFFER]).await;
    let mut c = Compress::new(Compression::default(), false);
    let bomb = deflate(&mut c, &vec![b'0'; 100_000]);
    assert!(bomb.len() < 1024, "the compressed form fits the limit");
    raw.send_frame(true, true, 0x1, &bomb, true).await;
    assert_eq!(raw.read_close().await.0, 1009);
    raw.answer_close(1009).await;
    let error = t.next_event(EventType::Error).await;
    assert_eq!(error.error.as_ref().unwrap().kind, "message_too_big");
    t.server.shutdown().await;
}

#[tokio::test]
async fn compressed_frame_without_negotiation_is_a_protocol_error() {
    let mut t = TestServer::start(&endpoint("raw", "disabled", "")).await;
    let mut raw = t.raw_upgrade("/ws", &[OFFER]).await;
    let mut c = Compress::new(Compression::default(), false);
    raw.send_frame(true, true, 0x1, &deflate(&mut c, b"hello"), true)
        .await;
    assert_eq!(raw.read_close().await.0, 1002);
    raw.answer_close(1002).await;
    let error = t.next_event(EventType::Error).await;
    assert_eq!(error.error.as_ref().unwrap().kind, "protocol");
    t.server.shutdown().await;
}

/// Reads frames until a text one arrives; inflates it when compressed.
async fn read_text(raw: &mut RawClient) -> (bool, Vec<u8>, String) {
    loop {
        let frame = raw.read_frame().await;
        if frame.opcode != 0x1 {
            continue;
        }
        let text = if frame.rsv1 {
            inflate(&mut Decompress::new(false), &frame.payload)
        } else {
            frame.payload.clone()
        };
        return (frame.rsv1, frame.payload, String::from_utf8(text).unwrap());
    }
}

#[tokio::test]
async fn shared_mode_sends_every_subscriber_the_same_compressed_publication() {
    let config = format!(
        "{}[channels]\nallow_anonymous = true\n",
        endpoint("channels", "shared", "")
    );
    let t = TestServer::start(&config).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut raw = t.raw_upgrade("/ws", &[OFFER]).await;
        let commands = "{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscribe\":{\"channel\":\"news\"}}";
        raw.send_frame(true, false, 0x1, commands.as_bytes(), true)
            .await;
        let mut replies = String::new();
        while !replies.contains("\"id\":2") {
            replies.push_str(&read_text(&mut raw).await.2);
        }
        clients.push(raw);
    }
    let data = serde_json::json!({ "headline": "x".repeat(200) });
    let (_, body) = t
        .api(
            "publish",
            serde_json::json!({ "channel": "news", "data": data }),
        )
        .await;
    assert!(body.get("result").is_some(), "{body}");
    let mut payloads = Vec::new();
    for raw in &mut clients {
        let (compressed, wire, text) = read_text(raw).await;
        assert!(compressed, "a publication over the threshold is compressed");
        let push: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(push["push"]["pub"]["data"], data, "{push}");
        payloads.push(wire);
    }
    assert!(
        payloads.windows(2).all(|w| w[0] == w[1]),
        "one compressed form for every subscriber"
    );
    drop(clients);
    t.server.shutdown().await;
}
