//! The opening handshake: refusals (426, 400, 403) with their JSON bodies
//! and headers, allowed origins, and refusals counted in /metrics.

mod common;

use common::*;
use switchboard::protocol::event::EventType;

const HANDSHAKE_SERIES: &str =
    r#"switchboard_connections_rejected_total{endpoint="/ws",reason="handshake"}"#;

#[tokio::test]
async fn plain_get_is_answered_426_with_upgrade_headers() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let response = t.http.get(t.http_url("/ws")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 426);
    let h = response.headers();
    assert_eq!(h["upgrade"], "websocket");
    assert_eq!(h["sec-websocket-version"], "13");
    assert!(h["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 107, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("/ws"),
        "{body}"
    );
    assert_eq!(metric(&t.metrics().await, HANDSHAKE_SERIES), 1);
    t.server.shutdown().await;
}

#[tokio::test]
async fn other_websocket_version_is_answered_426_naming_13() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let raw = t
        .raw_upgrade("/ws", &[("Sec-WebSocket-Version", "8")])
        .await;
    assert_eq!(raw.status, 426);
    assert_eq!(raw.header("sec-websocket-version"), Some("13"));
    assert_eq!(raw.header("upgrade"), Some("websocket"));
    let body: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert_eq!(body["error"]["code"], 107);
    t.server.shutdown().await;
}

#[tokio::test]
async fn bad_or_missing_key_is_answered_400() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    // Valid base64 but 5 bytes, not 16.
    let short = t
        .raw_upgrade("/ws", &[("Sec-WebSocket-Key", "c2hvcnQ=")])
        .await;
    assert_eq!(short.status, 400);
    let body: serde_json::Value = serde_json::from_str(&short.body).unwrap();
    assert_eq!(body["error"]["code"], 107);
    let missing = t.raw_upgrade("/ws", &[("Sec-WebSocket-Key", "")]).await;
    assert_eq!(missing.status, 400);
    let garbage = t
        .raw_upgrade("/ws", &[("Sec-WebSocket-Key", "!!not base64!!")])
        .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(metric(&t.metrics().await, HANDSHAKE_SERIES), 3);
    t.server.shutdown().await;
}

#[tokio::test]
async fn accepted_upgrade_has_the_rfc_accept_key() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let raw = t.raw_upgrade("/ws", &[]).await;
    assert_eq!(raw.status, 101);
    // RFC 6455 §1.3's example key and answer.
    assert_eq!(
        raw.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert!(raw
        .header("upgrade")
        .unwrap()
        .eq_ignore_ascii_case("websocket"));
    // No extension or subprotocol unless negotiated.
    assert_eq!(raw.header("sec-websocket-extensions"), None);
    assert_eq!(raw.header("sec-websocket-protocol"), None);
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn origins_outside_the_list_are_refused_with_403() {
    let mut t = TestServer::start(
        "[[endpoints]]\npath = \"/ws\"\nallowed_origins = [\"https://app.example\"]\n",
    )
    .await;
    let evil = t
        .raw_upgrade("/ws", &[("Origin", "https://evil.example")])
        .await;
    assert_eq!(evil.status, 403);
    let body: serde_json::Value = serde_json::from_str(&evil.body).unwrap();
    assert_eq!(body["error"]["code"], 107);
    // A different port or scheme is a different origin.
    let port = t
        .raw_upgrade("/ws", &[("Origin", "https://app.example:8443")])
        .await;
    assert_eq!(port.status, 403);
    let http = t
        .raw_upgrade("/ws", &[("Origin", "http://app.example")])
        .await;
    assert_eq!(http.status, 403);
    let origin = r#"switchboard_connections_rejected_total{endpoint="/ws",reason="origin"}"#;
    assert_eq!(metric(&t.metrics().await, origin), 3);
    assert_eq!(metric(&t.metrics().await, HANDSHAKE_SERIES), 0);

    // The listed origin (compared ignoring case) and no Origin at all pass.
    let (ok, _) = t
        .connect_with("/ws", &[("Origin", "https://APP.example")])
        .await;
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(
        connect.connection.origin.as_deref(),
        Some("https://APP.example")
    );
    let plain = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    drop((ok, plain));
    t.server.shutdown().await;
}

#[tokio::test]
async fn wildcard_origin_allows_any() {
    let mut t =
        TestServer::start("[[endpoints]]\npath = \"/ws\"\nallowed_origins = [\"*\"]\n").await;
    let (client, _) = t
        .connect_with("/ws", &[("Origin", "https://anything.example")])
        .await;
    t.next_event(EventType::Connect).await;
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn unknown_path_is_a_json_404_not_an_upgrade() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let raw = t.raw_upgrade("/nope", &[]).await;
    assert_eq!(raw.status, 404);
    let body: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert!(body["error"]["code"].is_number(), "{body}");
    t.server.shutdown().await;
}
