//! Abuse limits with real clients: connections per address (429 before
//! the upgrade), message rates per connection and per user (error replies,
//! then close 1008), each counted in /metrics; slow headers (slowloris) cut
//! at the handshake timeout, oversized headers answered 431.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use std::time::Duration;

use centrifuge::Centrifuge;
use common::*;
use futures_util::SinkExt;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;
use switchboard_auth::unix_now;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "limits-secret-limits-secret-012345";

fn toml() -> String {
    format!(
        r#"
[auth.jwt]
hmac_secret = "{SECRET}"

[[endpoints]]
path = "/ws"
[endpoints.limits]
connections_per_ip = 2
messages_per_second = 0.5
message_burst = 3
excess_before_close = 2

[[endpoints]]
path = "/users"
[endpoints.auth]
mode = "jwt"
[endpoints.limits]
user_messages_per_second = 0.5
message_burst = 2

[[endpoints]]
path = "/connection/websocket"
mode = "channels"
[endpoints.limits]
messages_per_second = 0.5
message_burst = 2
excess_before_close = 1
"#
    )
}

async fn send(client: &mut Client, text: &str) {
    client.send(Message::text(text.to_owned())).await.unwrap();
}

async fn next_json(client: &mut Client) -> Value {
    match next_message(client).await {
        Message::Text(text) => serde_json::from_str(&text).expect("JSON"),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn a_third_connection_from_one_address_gets_429() {
    let t = TestServer::start(&toml()).await;
    let a = t.connect("/ws").await;
    let _b = t.connect("/ws").await;
    let refused = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(refused.status, 429);
    let body: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["error"]["code"], 111, "{body}");
    let series = r#"switchboard_connections_rejected_total{endpoint="/ws",reason="per_ip"}"#;
    assert_eq!(metric(&t.metrics().await, series), 1);
    // A closed connection gives its place back.
    drop(a);
    centrifuge::eventually("a slot is free again", || async {
        t.raw_upgrade("/ws", &[]).await.status == 101
    })
    .await;
}

#[tokio::test]
async fn raw_messages_over_the_rate_get_errors_then_a_close() {
    let mut t = TestServer::start(&toml()).await;
    let mut client = t.connect("/ws").await;
    for i in 0..3 {
        send(&mut client, &format!("m{i}")).await;
        t.next_event(EventType::Message).await;
    }
    for _ in 0..2 {
        send(&mut client, "over").await;
        assert_eq!(next_json(&mut client).await["error"], "rate_limited");
    }
    send(&mut client, "over").await;
    assert_eq!(
        expect_close(&mut client).await,
        (1008, "rate limit exceeded".to_owned())
    );
    t.no_event(EventType::Message, Duration::from_millis(100))
        .await;
    let series = r#"switchboard_messages_rate_limited_total{endpoint="/ws"}"#;
    assert_eq!(metric(&t.metrics().await, series), 3);
}

#[tokio::test]
async fn one_user_shares_a_rate_across_connections() {
    let mut t = TestServer::start(&toml()).await;
    let token = encode(
        &Header::default(),
        &json!({"sub": "sam", "exp": unix_now() + 600}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let url = format!("/users?token={token}");
    let mut a = t.connect(&url).await;
    let mut b = t.connect(&url).await;
    send(&mut a, "1").await;
    send(&mut b, "2").await;
    t.next_event(EventType::Message).await;
    t.next_event(EventType::Message).await;
    // The user's burst of 2 is spent, whichever connection sends.
    send(&mut a, "3").await;
    assert_eq!(next_json(&mut a).await["error"], "rate_limited");
    send(&mut b, "4").await;
    assert_eq!(next_json(&mut b).await["error"], "rate_limited");
}

#[tokio::test]
async fn channels_commands_over_the_rate_get_error_111_then_a_close() {
    let t = TestServer::start(&toml()).await;
    let mut c = Centrifuge::open(&t.ws_url("/connection/websocket")).await;
    c.call("connect", json!({})).await;
    c.call("ping", json!({})).await;
    // The burst (2) is spent by connect and ping.
    assert_eq!(c.error_code("ping", json!({})).await, 111);
    let (_, line) = c.command_line("ping", json!({}));
    c.send_text(&line).await;
    assert_eq!(
        c.expect_close().await,
        (1008, "rate limit exceeded".to_owned())
    );
}

#[tokio::test]
async fn slow_headers_are_cut_at_the_handshake_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = TestServer::start("[server]\nbind = \"127.0.0.1:0\"\nhandshake_timeout_ms = 1000\n[[endpoints]]\npath = \"/ws\"\n").await;
    let mut tcp = tokio::net::TcpStream::connect(t.server.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    // The rest of the headers never comes: the server ends the connection.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closes the slow connection");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let series = r#"switchboard_http_refused_total{reason="header_timeout"}"#;
    assert_eq!(metric(&t.metrics().await, series), 1);
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let t = TestServer::start("[server]\nbind = \"127.0.0.1:0\"\nmax_header_bytes = 8192\n[[endpoints]]\npath = \"/ws\"\n").await;
    let big = "x".repeat(10_000);
    let response = t
        .http
        .get(t.http_url("/healthz"))
        .header("x-padding", big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 431);
    let series = r#"switchboard_http_refused_total{reason="header_too_large"}"#;
    assert_eq!(metric(&t.metrics().await, series), 1);
    let small = t.http.get(t.http_url("/healthz")).send().await.unwrap();
    assert_eq!(small.status().as_u16(), 200);
}

#[tokio::test]
async fn a_client_history_call_is_cut_to_history_max_limit() {
    let t = TestServer::start(&centrifuge::channels_toml(
        "[channels]\nhistory_max_limit = 3\n[channels.default]\nhistory_size = 10\nhistory_ttl_ms = 60000\n",
    ))
    .await;
    for n in 0..5 {
        centrifuge::api_publish(&t, "news", json!({ "n": n })).await;
    }
    let mut c = Centrifuge::open(&t.ws_url(centrifuge::PATH)).await;
    c.call("connect", json!({})).await;
    for limit in [-1, 10] {
        let page = c
            .call("history", json!({"channel": "news", "limit": limit}))
            .await;
        assert_eq!(
            centrifuge::publications(&page).len(),
            3,
            "limit {limit}: {page}"
        );
    }
    let page = c
        .call("history", json!({"channel": "news", "limit": 2}))
        .await;
    assert_eq!(centrifuge::publications(&page).len(), 2);
    // The server API is not cut.
    let (_, body) = t
        .api("history", json!({"channel": "news", "limit": -1}))
        .await;
    assert_eq!(
        body["result"]["publications"].as_array().map(Vec::len),
        Some(5),
        "{body}"
    );
}
