//! Two Switchboard nodes on one real `redis-server`: a publication through
//! either node reaches subscribers on both, history and recovery work
//! whichever node a client comes back to, presence is the union; and a
//! Redis that cannot be reached stops the start with an error naming
//! `broker.url`.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "../../broker/tests/support/redis_server.rs"]
mod redis_server;

use centrifuge::{channels_toml, redis_broker_toml, Centrifuge, PATH};
use common::TestServer;
use redis_server::RedisServer;
use serde_json::json;
use switchboard::{Config, Server, StartError};

fn node_toml(redis: &RedisServer, prefix: &str) -> String {
    let broker = redis_broker_toml(&redis.url(), prefix);
    channels_toml(&format!(
        r#"
{broker}
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

#[tokio::test]
async fn two_nodes_share_publications_history_and_presence() {
    let redis = RedisServer::start().await;
    let prefix = format!("nodes-{}", std::process::id());
    let a = TestServer::start(&node_toml(&redis, &prefix)).await;
    let b = TestServer::start(&node_toml(&redis, &prefix)).await;

    let mut on_a = Centrifuge::connect(&a.ws_url(PATH)).await;
    let mut on_b = Centrifuge::connect(&b.ws_url(PATH)).await;
    on_a.subscribe("chat:x").await;
    let subscribed = on_b.subscribe("chat:x").await;
    let epoch = subscribed["epoch"]
        .as_str()
        .expect("history channel has an epoch")
        .to_owned();

    // A client publish on node B and an API publish on node A reach both.
    on_b.publish("chat:x", json!({ "n": 1 })).await;
    let (_, body) = a
        .api(
            "publish",
            json!({ "channel": "chat:x", "data": { "n": 2 } }),
        )
        .await;
    assert_eq!(body["result"]["offset"], 2, "{body}");
    for client in [&mut on_a, &mut on_b] {
        for n in 1..=2 {
            let publication = client.next_publication("chat:x").await;
            assert_eq!(
                (
                    publication["data"]["n"].as_u64(),
                    publication["offset"].as_u64()
                ),
                (Some(n), Some(n))
            );
        }
    }

    // Presence is the union of both nodes.
    let stats = on_a
        .call("presence_stats", json!({ "channel": "chat:x" }))
        .await;
    assert_eq!(stats["num_clients"], 2, "{stats}");

    // A client that saw offset 2 on node A comes back on node B after two more.
    drop(on_a);
    for n in 3..=4 {
        b.api(
            "publish",
            json!({ "channel": "chat:x", "data": { "n": n } }),
        )
        .await;
    }
    let mut back = Centrifuge::connect(&b.ws_url(PATH)).await;
    let result = back
        .call(
            "subscribe",
            json!({ "channel": "chat:x", "recover": true, "offset": 2, "epoch": epoch }),
        )
        .await;
    assert_eq!(result["recovered"], true, "{result}");
    let offsets: Vec<u64> = result["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [3, 4]);
    drop((on_b, back));
    a.server.shutdown().await;
    b.server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start_naming_broker_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = format!(
        "[server]\nbind = \"127.0.0.1:0\"\n[broker]\nkind = \"redis\"\nurl = \"redis://:secret@127.0.0.1:{closed}\"\n[sinks.stdout]\nenabled = false\n"
    );
    let config = Config::from_toml_str(&toml).unwrap();
    let err = match Server::builder().config(config).start().await {
        Err(err) => err,
        Ok(_) => panic!("started without Redis"),
    };
    assert!(matches!(err, StartError::Broker { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("broker.url"), "{message}");
    assert!(
        !message.contains("secret"),
        "the password leaked: {message}"
    );
}

/// Polls `check` every 50 ms until true, within the test bound; for state
/// that changes on a timer (announcements), which no message announces.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 20 s: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn info_lists_every_node_and_readyz_follows_the_broker() {
    let mut redis = RedisServer::start().await;
    let prefix = format!("registry-{}", std::process::id());
    let a = TestServer::start(&node_toml(&redis, &prefix)).await;
    let b = TestServer::start(&node_toml(&redis, &prefix)).await;
    let _client_on_b = Centrifuge::connect(&b.ws_url(PATH)).await;

    eventually("node A lists both nodes", || async {
        let (_, body) = a.api("info", json!({})).await;
        let nodes = body["result"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        nodes.len() == 2 && nodes.iter().any(|n| n["num_clients"] == 1)
    })
    .await;
    let readyz = || async {
        a.http
            .get(a.http_url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 200);
    assert_eq!(
        common::metric(&a.metrics().await, "switchboard_broker_up"),
        1
    );

    redis.kill();
    eventually("readyz answers 503 once Redis is gone", || async {
        readyz().await == 503
    })
    .await;
    let (_, body) = a.api("info", json!({})).await;
    assert_eq!(
        body["result"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "only itself without the broker: {body}"
    );
}
