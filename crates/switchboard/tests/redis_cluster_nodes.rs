//! Two Switchboard nodes on a real three-master Redis Cluster: channels
//! whose keys land on different cluster nodes still fan out across
//! Switchboard nodes, recover from history and count presence, and the
//! server API reaches connections on the other node.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "../../broker/tests/support/redis_cluster.rs"]
mod redis_cluster;

use centrifuge::{channels_toml, eventually, Centrifuge, PATH};
use common::TestServer;
use redis_cluster::RedisCluster;
use serde_json::json;

fn node_toml(cluster: &RedisCluster, prefix: &str) -> String {
    let urls: Vec<String> = cluster.urls().iter().map(|u| format!("{u:?}")).collect();
    channels_toml(&format!(
        r#"
[broker]
kind = "redis"
cluster = true
urls = [{}]
prefix = "{prefix}"

[[channels.namespaces]]
name = "chat"
history_size = 100
history_ttl_ms = 60000
recovery = true
presence = true
"#,
        urls.join(", ")
    ))
}

#[tokio::test]
async fn two_nodes_on_a_redis_cluster_act_as_one() {
    let cluster = RedisCluster::start().await;
    let prefix = format!("cluster-nodes-{}", std::process::id());
    let a = TestServer::start(&node_toml(&cluster, &prefix)).await;
    let b = TestServer::start(&node_toml(&cluster, &prefix)).await;
    eventually("both nodes registered", || async {
        let (_, body) = a.api("info", json!({})).await;
        body["result"]["nodes"].as_array().map(Vec::len) == Some(2)
    })
    .await;

    // Enough channels that their keys spread over the three masters.
    let channels: Vec<String> = (0..12).map(|i| format!("chat:room{i}")).collect();
    let mut on_a = Centrifuge::connect(&a.ws_url(PATH)).await;
    let mut on_b = Centrifuge::connect(&b.ws_url(PATH)).await;
    for channel in &channels {
        on_a.subscribe(channel).await;
        on_b.subscribe(channel).await;
    }
    for (i, channel) in channels.iter().enumerate() {
        let via = if i % 2 == 0 { &a } else { &b };
        let result = centrifuge::api_publish(via, channel, json!({ "i": i })).await;
        assert_eq!(result["offset"], 1, "{result}");
    }
    // Order holds per channel; across channels on different masters it
    // does not (each master forwards its PUBLISH over the cluster bus).
    for client in [&mut on_a, &mut on_b] {
        let mut got = std::collections::BTreeMap::new();
        while got.len() < channels.len() {
            let push = client.next_push().await;
            if let Some(publication) = push.get("pub") {
                got.insert(
                    push["channel"].as_str().unwrap().to_owned(),
                    publication["data"]["i"].clone(),
                );
            }
        }
        for (i, channel) in channels.iter().enumerate() {
            assert_eq!(got[channel], i, "{channel}");
        }
    }
    assert_eq!(
        cluster.nodes_holding_keys().await,
        3,
        "keys spread over every master"
    );

    let stats = on_b
        .call("presence_stats", json!({ "channel": "chat:room3" }))
        .await;
    assert_eq!(stats["num_clients"], 2, "{stats}");
    let history = on_a
        .call("history", json!({ "channel": "chat:room5", "limit": 10 }))
        .await;
    assert_eq!(
        centrifuge::offsets(&centrifuge::publications(&history)),
        [1]
    );

    let (_, body) = a
        .api(
            "send",
            json!({ "connection": on_b.client_id, "data": { "hello": "b" } }),
        )
        .await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    drop((on_a, on_b));
    a.server.shutdown().await;
    b.server.shutdown().await;
}
