//! Who may subscribe, publish and read: namespace access levels
//! (`anyone`, `authenticated`, `token`, `nobody`), subscription tokens and
//! `sub_refresh`, the connection token's `channels` claim, and
//! user-limited channels, and the end of a subscription whose token was
//! not refreshed. Every refusal is a reply error, never a close.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{api_publish, channels_toml, Centrifuge, PATH};
use common::TestServer;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use switchboard_auth::unix_now;

const SECRET: &str = "permissions-secret-permissions-0123";
const PERMISSION_DENIED: u64 = 103;
const TOKEN_EXPIRED: u64 = 109;

fn toml() -> String {
    channels_toml(&format!(
        r#"
[auth]
refresh_window_ms = 1000

[auth.jwt]
hmac_secret = "{SECRET}"

[[channels.namespaces]]
name = "members"
presence = true
history_size = 10
history_ttl_ms = 60000
allow_subscribe = "authenticated"
allow_publish = "authenticated"
allow_presence = "authenticated"
allow_history = "authenticated"

[[channels.namespaces]]
name = "private"
presence = true
history_size = 10
history_ttl_ms = 60000
allow_subscribe = "token"
allow_publish = "token"
allow_presence = "token"
allow_history = "token"

[[channels.namespaces]]
name = "closed"
allow_subscribe = false

[[channels.namespaces]]
name = "personal"
"#
    ))
}

fn sign(claims: Value) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn sub_token(user: &str, channel: &str, ttl: i64) -> String {
    let exp = unix_now() as i64 + ttl;
    sign(json!({"sub": user, "channel": channel, "exp": exp}))
}

async fn connect(t: &TestServer, claims: Option<Value>) -> Centrifuge {
    let mut client = Centrifuge::open(&t.ws_url(PATH)).await;
    let token = claims.map(sign).unwrap_or_default();
    client.call("connect", json!({"token": token})).await;
    client
}

async fn user(t: &TestServer, name: &str) -> Centrifuge {
    connect(t, Some(json!({"sub": name, "exp": unix_now() + 600}))).await
}

#[tokio::test]
async fn authenticated_namespaces_refuse_anonymous_clients() {
    let t = TestServer::start(&toml()).await;
    let mut anon = connect(&t, None).await;
    let ch = json!({"channel": "members:lounge"});
    for method in ["subscribe", "presence", "history"] {
        assert_eq!(
            anon.error_code(method, ch.clone()).await,
            PERMISSION_DENIED,
            "{method}"
        );
    }
    let publish = json!({"channel": "members:lounge", "data": {}});
    assert_eq!(
        anon.error_code("publish", publish.clone()).await,
        PERMISSION_DENIED
    );
    // Still connected: refusals are replies.
    anon.call("ping", json!({})).await;

    let mut ann = user(&t, "ann").await;
    ann.subscribe("members:lounge").await;
    ann.call("publish", publish).await;
    ann.call("presence", ch.clone()).await;
    ann.call("history", ch).await;
}

#[tokio::test]
async fn token_namespaces_need_a_subscription_token_for_this_user_and_channel() {
    let t = TestServer::start(&toml()).await;
    let mut bob = user(&t, "bob").await;
    let plain = json!({"channel": "private:x"});
    assert_eq!(
        bob.error_code("subscribe", plain.clone()).await,
        PERMISSION_DENIED
    );
    let cases = [
        (
            "another channel",
            sub_token("bob", "private:y", 60),
            PERMISSION_DENIED,
        ),
        (
            "another user",
            sub_token("eve", "private:x", 60),
            PERMISSION_DENIED,
        ),
        ("forged", "a.b.c".to_owned(), PERMISSION_DENIED),
        (
            "expired",
            sub_token("bob", "private:x", -600),
            TOKEN_EXPIRED,
        ),
    ];
    for (what, token, code) in cases {
        let params = json!({"channel": "private:x", "token": token});
        assert_eq!(bob.error_code("subscribe", params).await, code, "{what}");
    }
    let good = json!({"channel": "private:x", "token": sub_token("bob", "private:x", 60)});
    bob.call("subscribe", good).await;
    // Holding the subscription lets bob publish and read in the channel.
    bob.call("publish", json!({"channel": "private:x", "data": {"n": 1}}))
        .await;
    bob.call("history", plain.clone()).await;
    bob.call("presence", plain).await;
    // But not in another private channel.
    let other = json!({"channel": "private:z", "data": {}});
    assert_eq!(bob.error_code("publish", other).await, PERMISSION_DENIED);
}

#[tokio::test]
async fn sub_refresh_takes_a_new_token_for_a_token_subscription() {
    let t = TestServer::start(&toml()).await;
    let mut bob = user(&t, "bob").await;
    let token = sub_token("bob", "private:x", 60);
    bob.call("subscribe", json!({"channel": "private:x", "token": token}))
        .await;
    let fresh = sub_token("bob", "private:x", 3600);
    let result = bob
        .call(
            "sub_refresh",
            json!({"channel": "private:x", "token": fresh}),
        )
        .await;
    assert_eq!(result["expires"], true, "{result}");
    assert!(
        result["ttl"].as_u64().unwrap_or_default() > 3000,
        "{result}"
    );
    let wrong = sub_token("bob", "private:other", 3600);
    let params = json!({"channel": "private:x", "token": wrong});
    assert_eq!(
        bob.error_code("sub_refresh", params).await,
        PERMISSION_DENIED
    );
    let never = json!({"channel": "members:x", "token": sub_token("bob", "members:x", 60)});
    assert_eq!(
        bob.error_code("sub_refresh", never).await,
        PERMISSION_DENIED
    );
}

#[tokio::test]
async fn the_channels_claim_grants_token_namespaces() {
    let t = TestServer::start(&toml()).await;
    let claims = json!({"sub": "cy", "exp": unix_now() + 600, "channels": ["private:y"], "subs": {"private:s": {}}});
    let mut cy = connect(&t, Some(claims)).await;
    cy.subscribe("private:y").await;
    cy.subscribe("private:s").await;
    let other = json!({"channel": "private:x"});
    assert_eq!(cy.error_code("subscribe", other).await, PERMISSION_DENIED);
}

#[tokio::test]
async fn nobody_means_nobody_even_with_a_token() {
    let t = TestServer::start(&toml()).await;
    let mut dee = user(&t, "dee").await;
    let params = json!({"channel": "closed:x", "token": sub_token("dee", "closed:x", 60)});
    assert_eq!(dee.error_code("subscribe", params).await, PERMISSION_DENIED);
}

#[tokio::test]
async fn user_limited_channels_are_for_their_users_only() {
    let t = TestServer::start(&toml()).await;
    let mut alice = user(&t, "alice").await;
    alice.subscribe("personal:inbox#alice,zed").await;
    let mut bob = user(&t, "bob").await;
    let ch = json!({"channel": "personal:inbox#alice,zed"});
    assert_eq!(
        bob.error_code("subscribe", ch.clone()).await,
        PERMISSION_DENIED
    );
    let mut anon = connect(&t, None).await;
    assert_eq!(anon.error_code("subscribe", ch).await, PERMISSION_DENIED);
    let series = format!(
        r#"switchboard_channel_commands_refused_total{{endpoint="{PATH}",reason="permission"}}"#
    );
    assert_eq!(common::metric(&t.metrics().await, &series), 2);
}

#[tokio::test]
async fn an_unrefreshed_subscription_ends_with_2501_and_a_refreshed_one_stays() {
    let t = TestServer::start(&toml()).await;
    let mut bob = user(&t, "bob").await;
    let params = json!({"channel": "private:a", "token": sub_token("bob", "private:a", 1)});
    let result = bob.call("subscribe", params).await;
    assert_eq!(
        (&result["expires"], result["ttl"].as_u64().is_some()),
        (&json!(true), true),
        "{result}"
    );
    let mut kim = user(&t, "kim").await;
    kim.call(
        "subscribe",
        json!({"channel": "private:b", "token": sub_token("kim", "private:b", 1)}),
    )
    .await;
    let fresh = json!({"channel": "private:b", "token": sub_token("kim", "private:b", 600)});
    kim.call("sub_refresh", fresh).await;

    // exp (1 s) + refresh window (1 s): bob's subscription ends.
    let push = bob.next_push().await;
    assert_eq!(push["channel"], "private:a", "{push}");
    assert_eq!(push["unsubscribe"]["code"], 2501, "{push}");
    // The grant went with it.
    let publish = json!({"channel": "private:a", "data": {}});
    assert_eq!(bob.error_code("publish", publish).await, PERMISSION_DENIED);
    // Kim refreshed in time and still receives.
    api_publish(&t, "private:b", json!({"still": true})).await;
    assert_eq!(
        kim.next_publication("private:b").await["data"]["still"],
        true
    );
}
