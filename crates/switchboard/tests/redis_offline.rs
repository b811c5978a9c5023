//! Offline queues across nodes on one real `redis-server`: what is
//! published through one node while a user is subscribed nowhere is handed
//! out when the user subscribes on another; while the user is subscribed
//! on any node, publications are delivered live and not queued.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "../../broker/tests/support/redis_server.rs"]
mod redis_server;

use centrifuge::{
    api_publish, channels_toml, connect_as, eventually, redis_broker_toml, Centrifuge, TOKEN_SECRET,
};
use common::TestServer;
use redis_server::RedisServer;
use serde_json::{json, Value};

const INBOX: &str = "personal:inbox#alice";
/// The same with history: offsets, and no publication twice.
const MAIL: &str = "mail:box#alice";

fn node_toml(redis: &RedisServer, prefix: &str) -> String {
    let broker = redis_broker_toml(&redis.url(), prefix);
    channels_toml(&format!(
        r#"
{broker}
[channels]
token_hmac_secret = "{TOKEN_SECRET}"

[[channels.namespaces]]
name = "personal"
offline_queue_size = 10
offline_queue_ttl_ms = 60000

[[channels.namespaces]]
name = "mail"
history_size = 100
history_ttl_ms = 60000
recovery = true
offline_queue_size = 10
offline_queue_ttl_ms = 60000
"#
    ))
}

async fn pending(node: &TestServer, user: &str) -> u64 {
    let (status, body) = node.api("offline_queue", json!({ "user": user })).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["pending"]
        .as_u64()
        .unwrap_or_else(|| panic!("offline_queue failed: {body}"))
}

/// The `n` of the next publication in `channel`.
async fn next_n(client: &mut Centrifuge, channel: &str) -> Value {
    client.next_publication(channel).await["data"]["n"].clone()
}

#[tokio::test]
async fn offline_queues_are_shared_by_every_node() {
    let redis = RedisServer::start().await;
    let prefix = format!("offline-{}", std::process::id());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start(&node_toml(&redis, &prefix)).await);
    }
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // Alice is offline: what is published through A is kept for her, once
    // (asked on C, which holds nothing itself).
    for n in 1..=2 {
        api_publish(a, INBOX, json!({ "n": n })).await;
        api_publish(a, MAIL, json!({ "n": n })).await;
    }
    assert_eq!(pending(c, "alice").await, 4);

    // She subscribes on B and gets it there, in order, after the reply.
    let mut on_b = connect_as(b, "alice").await;
    on_b.subscribe(INBOX).await;
    let reply = on_b.subscribe(MAIL).await;
    assert_eq!(reply["offset"], 2, "{reply}");
    // (`next_publication` skips other channels: one channel at a time.)
    for n in 1..=2 {
        assert_eq!(next_n(&mut on_b, INBOX).await, n);
    }
    for n in 1..=2 {
        let publication = on_b.next_publication(MAIL).await;
        assert_eq!(publication["offset"], n, "{publication}");
    }
    assert_eq!(pending(a, "alice").await, 0, "handed out, so gone");

    // Subscribed on B: a publication through A is delivered live, once,
    // and not queued.
    api_publish(a, INBOX, json!({ "n": 3 })).await;
    assert_eq!(next_n(&mut on_b, INBOX).await, 3);
    api_publish(a, MAIL, json!({ "n": 3 })).await;
    assert_eq!(on_b.next_publication(MAIL).await["offset"], 3);
    assert_eq!(pending(c, "alice").await, 0);

    // A second tab on C gets nothing from before: the next thing either
    // tab sees is what is published after it subscribed.
    let mut on_c = connect_as(c, "alice").await;
    on_c.subscribe(INBOX).await;
    on_c.subscribe(MAIL).await;
    api_publish(a, INBOX, json!({ "n": 4 })).await;
    for tab in [&mut on_b, &mut on_c] {
        assert_eq!(next_n(tab, INBOX).await, 4);
    }
    api_publish(a, MAIL, json!({ "n": 4 })).await;
    for tab in [&mut on_b, &mut on_c] {
        assert_eq!(tab.next_publication(MAIL).await["offset"], 4);
    }

    // Both tabs closed: the nodes tell Redis, and queueing starts again.
    drop((on_b, on_c));
    eventually("alice's subscriptions are gone", || async {
        api_publish(a, INBOX, json!({ "n": 5 })).await;
        pending(b, "alice").await > 0
    })
    .await;
    let mut on_a = connect_as(a, "alice").await;
    on_a.subscribe(INBOX).await;
    assert_eq!(next_n(&mut on_a, INBOX).await, 5);

    drop(on_a);
    for node in nodes {
        node.server.shutdown().await;
    }
}

#[tokio::test]
async fn a_held_reply_reaches_its_user_on_another_node() {
    let redis = RedisServer::start().await;
    let prefix = format!("held-{}", std::process::id());
    let a = TestServer::start(&node_toml(&redis, &prefix)).await;
    let b = TestServer::start(&node_toml(&redis, &prefix)).await;
    // The handle of a connection of bob's that is gone; bob has none.
    let handle = switchboard::protocol::reply_to::encode(
        "0062e0d7-416a-4692-81be-db4ea191f54b",
        Some("bob"),
    );
    let (_, sent) = a
        .api(
            "send",
            json!({ "reply_to": handle, "data": { "answer": 42 } }),
        )
        .await;
    assert_eq!(sent["result"]["held"], true, "{sent}");
    let mut on_b = connect_as(&b, "bob").await;
    let push = on_b.next_push().await;
    assert_eq!(push["message"]["data"], json!({ "answer": 42 }), "{push}");
    // Handed out once.
    let mut again = connect_as(&a, "bob").await;
    again
        .subscribe(INBOX.replace("alice", "bob").as_str())
        .await;
    assert_eq!(again.buffered_pushes(), 0);
}
