//! Three Switchboard nodes on one real `redis-server` behave as one
//! server: publications fan out to every node, presence is the union, and
//! the server API called on any node reaches connections and users held by
//! the others (send, disconnect, server-side subscribe, channel counts).

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "../../broker/tests/support/redis_server.rs"]
mod redis_server;

use centrifuge::{
    channels_toml, connect_as, eventually, redis_broker_toml, Centrifuge, TOKEN_SECRET,
};
use common::TestServer;
use redis_server::RedisServer;
use serde_json::{json, Value};

fn node_toml(redis: &RedisServer, prefix: &str) -> String {
    let broker = redis_broker_toml(&redis.url(), prefix);
    channels_toml(&format!(
        r#"
{broker}
[channels]
token_hmac_secret = "{TOKEN_SECRET}"

[[channels.namespaces]]
name = "chat"
history_size = 100
history_ttl_ms = 60000
recovery = true
presence = true
allow_publish = true
"#
    ))
}

async fn api_result(node: &TestServer, method: &str, params: Value) -> Value {
    let (status, body) = node.api(method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    body.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{method} failed: {body}"))
}

/// The next `message` push (server API `send`) the client gets.
async fn next_message(client: &mut Centrifuge) -> Value {
    loop {
        let push = client.next_push().await;
        if let Some(message) = push.get("message") {
            return message["data"].clone();
        }
    }
}

#[tokio::test]
async fn three_nodes_act_as_one_server() {
    let redis = RedisServer::start().await;
    let prefix = format!("three-{}", std::process::id());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start(&node_toml(&redis, &prefix)).await);
    }
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    for node in [a, b, c] {
        eventually("every node sees the other two", || async {
            let info = api_result(node, "info", json!({})).await;
            info["nodes"].as_array().map(Vec::len) == Some(3)
        })
        .await;
    }
    let mut alice_on_a = connect_as(a, "alice").await;
    let mut alice_on_b = connect_as(b, "alice").await;
    let mut bob_on_c = connect_as(c, "bob").await;

    // A publication through any node reaches subscribers on all three.
    for client in [&mut alice_on_a, &mut alice_on_b, &mut bob_on_c] {
        client.subscribe("chat:room").await;
    }
    bob_on_c.publish("chat:room", json!({ "from": "c" })).await;
    centrifuge::api_publish(a, "chat:room", json!({ "from": "a" })).await;
    for client in [&mut alice_on_a, &mut alice_on_b, &mut bob_on_c] {
        for (offset, from) in [(1, "c"), (2, "a")] {
            let publication = client.next_publication("chat:room").await;
            assert_eq!(publication["offset"], offset, "{publication}");
            assert_eq!(publication["data"]["from"], from, "{publication}");
        }
    }

    // Presence is the union; the channel list counts every node's clients.
    let stats = api_result(b, "presence_stats", json!({ "channel": "chat:room" })).await;
    assert_eq!(
        (stats["num_clients"].as_u64(), stats["num_users"].as_u64()),
        (Some(3), Some(2)),
        "{stats}"
    );
    let channels = api_result(b, "channels", json!({})).await;
    assert_eq!(
        channels["channels"]["chat:room"]["num_clients"], 3,
        "{channels}"
    );

    // `send` on node A to a connection on node C.
    let sent = api_result(
        a,
        "send",
        json!({ "connection": bob_on_c.client_id, "data": { "to": "bob" } }),
    )
    .await;
    assert_eq!(sent["delivered"], 1, "{sent}");
    assert_eq!(next_message(&mut bob_on_c).await, json!({ "to": "bob" }));

    // `send` on node C to a user connected to nodes A and B.
    let sent = api_result(
        c,
        "send",
        json!({ "user": "alice", "data": { "to": "alice" } }),
    )
    .await;
    assert_eq!(sent["delivered"], 2, "{sent}");
    for client in [&mut alice_on_a, &mut alice_on_b] {
        assert_eq!(next_message(client).await, json!({ "to": "alice" }));
    }

    // A server-side subscription made on node C reaches alice on A and B.
    let subscribed = api_result(
        c,
        "subscribe",
        json!({ "user": "alice", "channel": "chat:news" }),
    )
    .await;
    assert_eq!(subscribed["connections"], 2, "{subscribed}");
    for client in [&mut alice_on_a, &mut alice_on_b] {
        let push = client.next_push().await;
        assert_eq!(push["channel"], "chat:news", "{push}");
        assert!(push.get("subscribe").is_some(), "{push}");
    }

    // `disconnect` on node B of a connection on node C.
    let gone = api_result(b, "disconnect", json!({ "client": bob_on_c.client_id })).await;
    assert_eq!(gone["disconnected"], 1, "{gone}");
    let (code, _) = bob_on_c.expect_close().await;
    assert_eq!(code, 3503, "force disconnect without reconnect");

    drop((alice_on_a, alice_on_b));
    for node in nodes {
        node.server.shutdown().await;
    }
}
