//! Endpoint auth at the handshake, with `examples/auth-hs256.toml` (a
//! fixed name): each token source, every bad-token case answered 401 with
//! a JSON body before the upgrade, origin refusal, the user in events, and
//! the server API key.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use common::*;
use futures_util::SinkExt;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;
use switchboard_auth::unix_now;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "change-me-hs256-secret-0123456789";
const AUTH_SERIES: &str = r#"switchboard_connections_rejected_total{endpoint="/ws",reason="auth"}"#;

async fn example() -> TestServer {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/auth-hs256.toml"
    );
    TestServer::start(&std::fs::read_to_string(path).expect("example file")).await
}

fn hs256(claims: Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn token(user: &str) -> String {
    hs256(json!({"sub": user, "exp": unix_now() + 600}), SECRET)
}

/// The refusal's status and error message.
async fn refused(t: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let raw = t.raw_upgrade(path, headers).await;
    let body: Value = serde_json::from_str(&raw.body).unwrap_or_else(|_| panic!("{}", raw.body));
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if raw.status == 401 {
        assert_eq!(body["error"]["code"], 101, "{body}");
    }
    (raw.status, message)
}

#[tokio::test]
async fn a_bearer_header_names_the_user_in_events() {
    let mut t = example().await;
    let bearer = format!("Bearer {}", token("alice"));
    let (mut client, _) = t.connect_with("/ws", &[("Authorization", &bearer)]).await;
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.user.as_deref(), Some("alice"));
    client.send(Message::text("hello")).await.unwrap();
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.connection.user.as_deref(), Some("alice"));
}

#[tokio::test]
async fn a_query_token_is_accepted() {
    let mut t = example().await;
    let _client = t.connect(&format!("/ws?token={}", token("bob"))).await;
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.user.as_deref(), Some("bob"));
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_before_the_upgrade() {
    let t = example().await;
    let now = unix_now();
    let b64 = |v: &Value| {
        // Enough base64url for a header and claims without a new dependency.
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none"})),
        b64(&json!({"sub": "x", "exp": now + 60}))
    );
    let cases = [
        ("no token", None, "authentication required"),
        ("alg none", Some(none), "invalid token: malformed"),
        (
            "another secret",
            Some(hs256(
                json!({"sub": "x", "exp": now + 60}),
                "another-secret-another-secret-xyz",
            )),
            "invalid token: bad signature",
        ),
        (
            "expired",
            Some(hs256(json!({"sub": "x", "exp": now - 600}), SECRET)),
            "token expired",
        ),
        (
            "no exp",
            Some(hs256(json!({"sub": "x"}), SECRET)),
            "invalid token: missing exp",
        ),
        (
            "garbage",
            Some("not.a.jwt".to_owned()),
            "invalid token: malformed",
        ),
    ];
    for (what, token, message) in cases {
        for path in ["/ws", "/connection/websocket"] {
            let bearer = token.as_ref().map(|t| format!("Bearer {t}"));
            let headers: Vec<(&str, &str)> = bearer
                .iter()
                .map(|b| ("Authorization", b.as_str()))
                .collect();
            assert_eq!(
                refused(&t, path, &headers).await,
                (401, message.to_owned()),
                "{what} on {path}"
            );
            if let Some(token) = &token {
                let query = format!("{path}?token={token}");
                assert_eq!(
                    refused(&t, &query, &[]).await,
                    (401, message.to_owned()),
                    "{what} in query"
                );
            }
        }
    }
    assert_eq!(metric(&t.metrics().await, AUTH_SERIES), 11);
}

#[tokio::test]
async fn sources_not_enabled_are_not_read() {
    let t = example().await;
    // The example enables header and query only.
    let entry = format!("bearer.{}", token("carol"));
    let headers = [("Sec-WebSocket-Protocol", entry.as_str())];
    assert_eq!(
        refused(&t, "/ws", &headers).await,
        (401, "authentication required".to_owned())
    );
    let other_param = format!("/ws?access_token={}", token("carol"));
    assert_eq!(refused(&t, &other_param, &[]).await.0, 401);
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_even_with_a_valid_token() {
    let t = example().await;
    let bearer = format!("Bearer {}", token("dave"));
    let foreign = [
        ("Authorization", bearer.as_str()),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(refused(&t, "/ws", &foreign).await.0, 403);
    let own = [
        ("Authorization", bearer.as_str()),
        ("Origin", "https://app.example"),
    ];
    let (_client, _) = t.connect_with("/ws", &own).await;
}

#[tokio::test]
async fn a_channels_client_is_the_handshake_user_without_a_connect_token() {
    let t = example().await;
    let url = format!(
        "{}?token={}",
        t.ws_url("/connection/websocket"),
        token("erin")
    );
    let mut client = centrifuge::Centrifuge::open(&url).await;
    let result = client.call("connect", json!({})).await;
    assert!(result["client"].is_string(), "{result}");
    let (status, body) = t
        .api_raw("connections", "{}", &[("X-API-Key", "change-me-api-key")])
        .await;
    assert_eq!(status, 200, "{body}");
    let users: Vec<&str> = body["result"]["connections"]
        .as_array()
        .map(|list| list.iter().filter_map(|c| c["user"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(users, ["erin"], "{body}");
    // A connect token for someone else is not the same client.
    let mut other = centrifuge::Centrifuge::open(&url).await;
    let (_, line) = other.command_line("connect", json!({"token": token("frank")}));
    other.send_text(&line).await;
    assert_eq!(
        other.expect_close().await,
        (3500, "invalid token".to_owned())
    );
}

#[tokio::test]
async fn the_api_wants_its_key_even_from_loopback() {
    let t = example().await;
    let (status, body) = t.api_raw("info", "{}", &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_u64()),
        (401, Some(101)),
        "{body}"
    );
    let (status, _) = t.api_raw("info", "{}", &[("X-API-Key", "wrong")]).await;
    assert_eq!(status, 401);
    let (status, body) = t
        .api_raw("info", "{}", &[("X-API-Key", "change-me-api-key")])
        .await;
    assert_eq!(status, 200, "{body}");
}
