//! Auth after the handshake: the first-message credential and its
//! deadline, the refresh window both ways (raw and channels), API-key
//! endpoints, the subprotocol source, token revocation, and API key scopes.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use std::time::{Duration, Instant};

use centrifuge::Centrifuge;
use common::*;
use futures_util::SinkExt;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;
use switchboard_auth::unix_now;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "session-secret-session-secret-0123";

fn toml() -> String {
    format!(
        r#"
[api]
key = "admin-key"

[[api.keys]]
name = "reader"
key = "read-key"
scope = "read"

[[api.keys]]
name = "publisher"
key = "publish-key"
scope = "publish"

[auth]
refresh_window_ms = 1000

[auth.jwt]
hmac_secret = "{SECRET}"

[[endpoints]]
path = "/ws"
[endpoints.auth]
mode = "jwt"
connect_timeout_ms = 500

[[endpoints]]
path = "/keys"
[endpoints.auth]
mode = "api_key"
sources = ["header", "subprotocol"]
[[endpoints.auth.api_keys]]
name = "device-1"
key_sha256 = "{}"

[[endpoints]]
path = "/connection/websocket"
mode = "channels"
[endpoints.auth]
mode = "jwt"
connect_timeout_ms = 500
"#,
        sha256_hex("device-key")
    )
}

fn sha256_hex(text: &str) -> String {
    // The test computes the digest the way an operator would, with sha256sum.
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8(out.stdout).expect("hex")[..64].to_owned()
}

fn token(claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn user_token(user: &str, ttl: u64) -> String {
    token(json!({"sub": user, "exp": unix_now() + ttl}))
}

/// The user of the next `connect` event.
async fn connected_user(t: &mut TestServer) -> Option<String> {
    t.next_event(EventType::Connect)
        .await
        .connection
        .user
        .as_deref()
        .map(str::to_owned)
}

async fn next_json(client: &mut Client) -> Value {
    match next_message(client).await {
        Message::Text(text) => serde_json::from_str(&text).expect("JSON"),
        other => panic!("expected text, got {other:?}"),
    }
}

async fn send_json(client: &mut Client, value: Value) {
    client.send(Message::text(value.to_string())).await.unwrap();
}

#[tokio::test]
async fn a_raw_client_may_send_its_token_as_the_first_message() {
    let mut t = TestServer::start(&toml()).await;
    let mut client = t.connect("/ws").await;
    // Not announced before it proves who it is.
    t.no_event(EventType::Connect, Duration::from_millis(100))
        .await;
    send_json(
        &mut client,
        json!({"type": "connect", "token": user_token("ann", 600)}),
    )
    .await;
    let reply = next_json(&mut client).await;
    assert_eq!(
        (reply["type"].as_str(), reply["user"].as_str()),
        (Some("connected"), Some("ann")),
        "{reply}"
    );
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.user.as_deref(), Some("ann"));
    send_json(&mut client, json!({"hello": 1})).await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.connection.user.as_deref(), Some("ann"));
}

#[tokio::test]
async fn a_waiting_raw_client_is_closed_with_1008_for_anything_else() {
    let mut t = TestServer::start(&toml()).await;
    let cases = [
        (json!({"hello": 1}), "authentication required"),
        (
            json!({"type": "connect", "token": "forged.token.x"}),
            "invalid token",
        ),
        (
            json!({"type": "connect", "token": token(json!({"sub": "a", "exp": unix_now() - 600}))}),
            "token expired",
        ),
    ];
    for (first, reason) in cases {
        let mut client = t.connect("/ws").await;
        send_json(&mut client, first).await;
        assert_eq!(expect_close(&mut client).await, (1008, reason.to_owned()));
    }
    // Silence: closed at the connect deadline (500 ms).
    let started = Instant::now();
    let mut client = t.connect("/ws").await;
    assert_eq!(
        expect_close(&mut client).await,
        (1008, "authentication timeout".to_owned())
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // None of them was ever announced.
    t.no_event(EventType::Connect, Duration::from_millis(50))
        .await;
    t.no_event(EventType::Disconnect, Duration::from_millis(50))
        .await;
}

#[tokio::test]
async fn raw_refresh_window_both_ways() {
    let mut t = TestServer::start(&toml()).await;
    // Expires in 1 s; the window adds 1 s.
    let bearer = format!("Bearer {}", user_token("late", 1));
    let (mut late, _) = t.connect_with("/ws", &[("Authorization", &bearer)]).await;
    let bearer = format!("Bearer {}", user_token("keen", 1));
    let (mut keen, _) = t.connect_with("/ws", &[("Authorization", &bearer)]).await;
    send_json(
        &mut keen,
        json!({"type": "refresh", "token": user_token("keen", 600)}),
    )
    .await;
    let reply = next_json(&mut keen).await;
    assert_eq!(reply["type"], "refreshed", "{reply}");
    // A token for someone else does not refresh.
    send_json(
        &mut keen,
        json!({"type": "refresh", "token": user_token("other", 600)}),
    )
    .await;
    assert_eq!(next_json(&mut keen).await["error"], "invalid_token");
    let started = Instant::now();
    assert_eq!(
        expect_close(&mut late).await,
        (1008, "token expired".to_owned())
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The refreshed one outlives the old expiry and still works.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_json(&mut keen, json!({"still": "here"})).await;
    loop {
        let event = t.next_event(EventType::Message).await;
        if event.connection.user.as_deref() == Some("keen") {
            break;
        }
    }
}

#[tokio::test]
async fn api_key_endpoints_take_the_key_from_the_header_or_a_subprotocol() {
    let mut t = TestServer::start(&toml()).await;
    let (_a, _) = t
        .connect_with("/keys", &[("X-API-Key", "device-key")])
        .await;
    assert_eq!(connected_user(&mut t).await.as_deref(), Some("device-1"));
    // As a browser does it: the marker and the key, and the marker chosen.
    let (_b, headers) = t
        .connect_with(
            "/keys",
            &[("Sec-WebSocket-Protocol", "bearer, bearer.device-key")],
        )
        .await;
    assert_eq!(
        header(&headers, "sec-websocket-protocol"),
        Some("bearer"),
        "the credential is never echoed"
    );
    assert_eq!(connected_user(&mut t).await.as_deref(), Some("device-1"));
    for headers in [
        vec![("X-API-Key", "wrong-key")],
        vec![("Authorization", "Bearer wrong-key")],
        vec![],
    ] {
        assert_eq!(
            t.raw_upgrade("/keys", &headers).await.status,
            401,
            "{headers:?}"
        );
    }
    // The query source is not enabled on this endpoint.
    assert_eq!(
        t.raw_upgrade("/keys?token=device-key", &[]).await.status,
        401
    );
}

#[tokio::test]
async fn a_jwt_endpoint_reads_the_subprotocol_source() {
    let mut t = TestServer::start(&toml()).await;
    let entry = format!("bearer, bearer.{}", user_token("gus", 600));
    let (_c, headers) = t
        .connect_with("/ws", &[("Sec-WebSocket-Protocol", &entry)])
        .await;
    assert_eq!(header(&headers, "sec-websocket-protocol"), Some("bearer"));
    assert_eq!(connected_user(&mut t).await.as_deref(), Some("gus"));
}

#[tokio::test]
async fn channels_connect_deadline_and_refresh_window() {
    let t = TestServer::start(&toml()).await;
    let url = t.ws_url("/connection/websocket");
    // No connect at all: closed at the deadline.
    let mut silent = Centrifuge::open(&url).await;
    assert_eq!(
        silent.expect_close().await,
        (3501, "bad request".to_owned())
    );
    // Token in the connect command, expiring in 1 s: the reply says so.
    let mut late = Centrifuge::open(&url).await;
    let result = late
        .call("connect", json!({"token": user_token("hal", 1)}))
        .await;
    assert_eq!(result["expires"], true, "{result}");
    let mut keen = Centrifuge::open(&url).await;
    keen.call("connect", json!({"token": user_token("ida", 1)}))
        .await;
    let refreshed = keen
        .call("refresh", json!({"token": user_token("ida", 600)}))
        .await;
    assert!(
        refreshed["ttl"].as_u64().unwrap_or_default() > 500,
        "{refreshed}"
    );
    assert_eq!(late.expect_close().await, (3005, "expired".to_owned()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Still connected: a command is answered.
    keen.call("ping", json!({})).await;
}

async fn api(t: &TestServer, key: &str, method: &str, body: Value) -> (u16, Value) {
    t.api_raw(method, body.to_string(), &[("X-API-Key", key)])
        .await
}

#[tokio::test]
async fn revoke_token_closes_its_holders_and_refuses_it_again() {
    let t = TestServer::start(&toml()).await;
    let stolen = token(json!({"sub": "jo", "jti": "t-1", "exp": unix_now() + 600}));
    let bearer = format!("Bearer {stolen}");
    let (mut raw, _) = t.connect_with("/ws", &[("Authorization", &bearer)]).await;
    let mut channels = Centrifuge::open(&t.ws_url("/connection/websocket")).await;
    channels.call("connect", json!({"token": stolen})).await;
    let other = token(json!({"sub": "jo", "jti": "t-2", "exp": unix_now() + 600}));
    let (mut kept, _) = t
        .connect_with("/ws", &[("Authorization", &format!("Bearer {other}"))])
        .await;

    let (status, body) = api(&t, "admin-key", "revoke_token", json!({"uid": "t-1"})).await;
    assert_eq!(
        (status, &body["result"]["disconnected"]),
        (200, &json!(2)),
        "{body}"
    );
    assert_eq!(
        expect_close(&mut raw).await,
        (1008, "token revoked".to_owned())
    );
    assert_eq!(
        channels.expect_close().await,
        (3500, "invalid token".to_owned())
    );
    let again = t.raw_upgrade("/ws", &[("Authorization", &bearer)]).await;
    assert_eq!(again.status, 401);
    assert!(again.body.contains("token revoked"), "{}", again.body);
    // Another token of the same user is untouched.
    send_json(&mut kept, json!({"ok": true})).await;
    let (status, body) = api(&t, "admin-key", "revoke_token", json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (200, &json!(107)),
        "{body}"
    );
}

#[tokio::test]
async fn api_key_scopes() {
    let t = TestServer::start(&toml()).await;
    let publish = json!({"channel": "news", "data": {"x": 1}});
    assert_eq!(api(&t, "read-key", "info", json!({})).await.0, 200);
    let (status, body) = api(&t, "read-key", "publish", publish.clone()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!(103)),
        "{body}"
    );
    assert_eq!(
        api(&t, "publish-key", "publish", publish.clone()).await.0,
        200
    );
    let (status, _) = api(&t, "publish-key", "disconnect", json!({"user": "x"})).await;
    assert_eq!(status, 403);
    assert_eq!(
        api(&t, "admin-key", "disconnect", json!({"user": "x"}))
            .await
            .0,
        200
    );
    // In a batch each command is checked on its own.
    let batch = json!({"commands": [{"info": {}}, {"publish": publish}]});
    let (status, body) = api(&t, "read-key", "batch", batch).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["replies"][0]["info"].is_object(), "{body}");
    assert_eq!(body["replies"][1]["error"]["code"], 103, "{body}");
    assert_eq!(api(&t, "no-such-key", "info", json!({})).await.0, 401);
}
