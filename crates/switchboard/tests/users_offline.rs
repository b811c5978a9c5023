//! Users on channels endpoints: HS256 connection tokens set the user;
//! user-limited channels (`ns:name#alice`) admit only their users; an
//! offline queue keeps what was published to a user with no connection and
//! delivers it, in order, when the user subscribes again; user_online and
//! user_offline events follow the user's connections.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{channels_toml, Centrifuge, PATH};
use common::TestServer;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A token for `claims`, expiring in an hour unless they say otherwise.
fn token(mut claims: Value) -> String {
    if claims.get("exp").is_none() {
        claims["exp"] = json!(switchboard_auth::unix_now() + 3600);
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn toml() -> String {
    channels_toml(&format!(
        r#"
[channels]
token_hmac_secret = "{SECRET}"
user_offline_grace_ms = 200

[[channels.namespaces]]
name = "personal"
presence = true
offline_queue_size = 3
offline_queue_ttl_ms = 60000
"#
    ))
}

async fn connect_as(t: &TestServer, user: &str) -> Centrifuge {
    let mut client = Centrifuge::open(&t.ws_url(PATH)).await;
    let result = client
        .call("connect", json!({ "token": token(json!({ "sub": user })) }))
        .await;
    client.client_id = result["client"].as_str().expect("connected").to_owned();
    client
}

#[tokio::test]
async fn offline_queue_delivers_in_order_on_resubscribe() {
    let mut t = TestServer::start(&toml()).await;
    let channel = "personal:inbox#bob";
    // Bob is offline: four publications, the queue keeps the last three.
    for n in 1..=4 {
        let (_, body) = t
            .api("publish", json!({ "channel": channel, "data": { "n": n } }))
            .await;
        assert!(body.get("result").is_some(), "{body}");
    }

    let mut anonymous = Centrifuge::connect(&t.ws_url(PATH)).await;
    assert_eq!(
        anonymous
            .error_code("subscribe", json!({ "channel": channel }))
            .await,
        103
    );
    let mut alice = connect_as(&t, "alice").await;
    assert_eq!(
        alice
            .error_code("subscribe", json!({ "channel": channel }))
            .await,
        103
    );

    let (_, body) = t.api("offline_queue", json!({ "user": "bob" })).await;
    assert_eq!(body["result"]["pending"], 3, "{body}");

    let mut bob = connect_as(&t, "bob").await;
    assert_eq!(
        t.next_event(EventType::UserOnline)
            .await
            .connection
            .user
            .as_deref(),
        Some("alice")
    );
    bob.subscribe(channel).await;
    for n in 2..=4 {
        let publication = bob.next_publication(channel).await;
        assert_eq!(publication["data"], json!({ "n": n }), "{publication}");
    }
    let (_, body) = t.api("offline_queue", json!({ "user": "bob" })).await;
    assert_eq!(
        body["result"]["pending"], 0,
        "delivered, so no longer queued: {body}"
    );
    // Online now: the next one is live, not queued twice.
    t.api("publish", json!({ "channel": channel, "data": { "n": 5 } }))
        .await;
    assert_eq!(
        bob.next_publication(channel).await["data"],
        json!({ "n": 5 })
    );
    drop((anonymous, alice, bob));
    t.server.shutdown().await;
}

#[tokio::test]
async fn three_tabs_are_one_user_and_offline_waits_for_the_grace() {
    let mut t = TestServer::start(&toml()).await;
    let channel = "personal:room#carol";
    let mut tabs = Vec::new();
    for _ in 0..3 {
        let mut tab = connect_as(&t, "carol").await;
        tab.subscribe(channel).await;
        tabs.push(tab);
    }
    let online = t.next_event(EventType::UserOnline).await;
    assert_eq!(online.connection.user.as_deref(), Some("carol"));
    let stats = tabs[0]
        .call("presence_stats", json!({ "channel": channel }))
        .await;
    assert_eq!(stats, json!({ "num_clients": 3, "num_users": 1 }));
    let presence = tabs[0]
        .call("presence", json!({ "channel": channel }))
        .await;
    let users: Vec<&str> = presence["presence"]
        .as_object()
        .unwrap()
        .values()
        .map(|i| i["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["carol", "carol", "carol"]);

    // Closing tabs one by one: offline only after the last, and after the grace.
    tabs.truncate(0);
    let offline = t.next_event(EventType::UserOffline).await;
    assert_eq!(offline.connection.user.as_deref(), Some("carol"));
    t.server.shutdown().await;
}

#[tokio::test]
async fn bad_and_expired_tokens() {
    let t = TestServer::start(&toml()).await;
    let mut forged = Centrifuge::open(&t.ws_url(PATH)).await;
    let wrong = encode(
        &Header::default(),
        &json!({"sub": "x"}),
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
    )
    .unwrap();
    forged
        .send_text(&json!({"id": 1, "connect": {"token": wrong}}).to_string())
        .await;
    assert_eq!(
        forged.expect_close().await,
        (3500, "invalid token".to_owned())
    );

    let mut expired = Centrifuge::open(&t.ws_url(PATH)).await;
    let old = token(json!({"sub": "x", "exp": 1_000_000_000}));
    assert_eq!(
        expired.error_code("connect", json!({ "token": old })).await,
        109
    );
    drop((forged, expired));
    t.server.shutdown().await;
}

#[tokio::test]
async fn api_refresh_moves_or_ends_the_expiry() {
    let t = TestServer::start(&toml()).await;
    let mut stays = connect_as(&t, "frank").await;
    let mut goes = connect_as(&t, "gina").await;
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let (_, body) = t
        .api("refresh", json!({ "user": "frank", "expire_at": later }))
        .await;
    assert_eq!(body["result"]["connections"], 1, "{body}");
    let (_, body) = t
        .api("refresh", json!({ "user": "gina", "expired": true }))
        .await;
    assert_eq!(body["result"]["connections"], 1, "{body}");
    assert_eq!(goes.expect_close().await, (3005, "expired".to_owned()));
    // frank is still served.
    t.api(
        "send",
        json!({ "connection": stays.client_id, "data": "still here" }),
    )
    .await;
    assert_eq!(stays.next_push().await["message"]["data"], "still here");
    drop((stays, goes));
    t.server.shutdown().await;
}
