//! Redis going away under load: three nodes keep running, publishing fails
//! fast while it is down, and every subscriber ends with every publication
//! that was acknowledged — in order, without duplicates — from live
//! delivery or, for what the pub/sub connection missed, from history.
//! When Redis comes back without its data, subscribers are told (an
//! `unsubscribe` push 2500) and learn `recovered: false` when they
//! subscribe again.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "../../broker/tests/support/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use centrifuge::{channels_toml, redis_broker_toml, Centrifuge, PATH};
use common::{metric, TestServer};
use redis_server::RedisServer;
use serde_json::{json, Value};

const CHANNEL: &str = "chat:load";

fn node_toml(redis: &RedisServer, prefix: &str) -> String {
    let broker = redis_broker_toml(&redis.url(), prefix);
    channels_toml(&format!(
        r#"
{broker}
[[channels.namespaces]]
name = "chat"
history_size = 10000
history_ttl_ms = 600000
recovery = true
"#
    ))
}

/// A subscriber that keeps the `n` of every publication it got, and
/// subscribes again (recovering from its position) when told to.
struct Subscriber {
    client: Centrifuge,
    got: Vec<u64>,
    offset: u64,
    epoch: String,
    resubscribed: usize,
    recovered_false: usize,
}

impl Subscriber {
    async fn join(server: &TestServer) -> Self {
        let mut client = Centrifuge::connect(&server.ws_url(PATH)).await;
        let result = client.subscribe(CHANNEL).await;
        Self {
            client,
            got: Vec::new(),
            offset: result["offset"].as_u64().unwrap_or(0),
            epoch: result["epoch"].as_str().unwrap_or_default().to_owned(),
            resubscribed: 0,
            recovered_false: 0,
        }
    }

    fn take(&mut self, publication: &Value) {
        self.got.push(publication["data"]["n"].as_u64().expect("n"));
        self.offset = publication["offset"].as_u64().expect("offset");
    }

    /// Reads pushes until `last` (the last acknowledged `n`) has arrived.
    async fn read_until(&mut self, last: u64) {
        while self.got.last().copied() < Some(last) {
            let push = self.client.next_push().await;
            if let Some(publication) = push.get("pub") {
                self.take(publication);
            } else if push["unsubscribe"]["code"] == 2500 {
                self.resubscribe().await;
            }
        }
    }

    async fn resubscribe(&mut self) {
        self.resubscribed += 1;
        let params = json!({
            "channel": CHANNEL, "recover": true, "offset": self.offset, "epoch": self.epoch,
        });
        let result = self.client.call("subscribe", params).await;
        if result["recovered"] != true {
            self.recovered_false += 1;
        }
        for publication in centrifuge::publications(&result) {
            self.take(&publication);
        }
        self.epoch = result["epoch"].as_str().unwrap_or_default().to_owned();
    }
}

fn assert_in_order_and_complete(got: &[u64], acknowledged: &[u64], who: &str) {
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "{who}: publications out of order or duplicated: {got:?}"
    );
    let missing: Vec<u64> = acknowledged
        .iter()
        .filter(|n| got.binary_search(n).is_err())
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "{who}: acknowledged but never received: {missing:?}"
    );
}

#[tokio::test]
async fn redis_restart_under_publish_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start_persistent(dir.path()).await;
    let prefix = format!("faults-{}", std::process::id());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(TestServer::start(&node_toml(&redis, &prefix)).await);
    }
    let mut subscribers = Vec::new();
    for node in &nodes {
        subscribers.push(Subscriber::join(node).await);
    }

    // Publish through the three nodes in turn, every 5 ms, and keep the
    // `n` of every publish the API acknowledged.
    let urls: Vec<String> = nodes.iter().map(|n| n.http_url("/api/publish")).collect();
    let publisher = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut acknowledged = Vec::new();
        let mut failed = 0;
        let stop = tokio::time::Instant::now() + Duration::from_secs(7);
        let mut n = 0u64;
        while tokio::time::Instant::now() < stop {
            n += 1;
            let url = &urls[n as usize % urls.len()];
            let body = json!({ "channel": CHANNEL, "data": { "n": n } });
            let reply = http
                .post(url)
                .json(&body)
                .timeout(Duration::from_secs(10))
                .send()
                .await;
            let ok = match reply {
                Ok(reply) => reply
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v.get("result").is_some()),
                Err(_) => false,
            };
            if ok {
                acknowledged.push(n);
            } else {
                failed += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (acknowledged, failed)
    });

    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart().await;
    let (acknowledged, failed) = publisher.await.unwrap();
    assert!(failed > 0, "publishing must fail while redis is down");
    let last = *acknowledged.last().expect("publications were acknowledged");
    assert!(
        acknowledged.iter().any(|&n| n > acknowledged.len() as u64),
        "some publications after the outage were acknowledged"
    );

    for (i, subscriber) in subscribers.iter_mut().enumerate() {
        tokio::time::timeout(Duration::from_secs(30), subscriber.read_until(last))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "node {i}: only {} of {} acknowledged publications arrived",
                    subscriber.got.len(),
                    acknowledged.len()
                )
            });
        assert_in_order_and_complete(&subscriber.got, &acknowledged, &format!("node {i}"));
        assert_eq!(subscriber.recovered_false, 0, "node {i}: history was kept");
    }
    for node in &nodes {
        let (status, body) = node.api("info", json!({})).await;
        assert_eq!(status, 200, "every node still answers: {body}");
        assert!(metric(&node.metrics().await, "switchboard_broker_reconnects_total") >= 1);
    }
    drop(subscribers);
    for node in nodes {
        node.server.shutdown().await;
    }
}

#[tokio::test]
async fn redis_back_without_its_data_tells_subscribers_recovery_failed() {
    let mut redis = RedisServer::start().await;
    let prefix = format!("lost-{}", std::process::id());
    let node = TestServer::start(&node_toml(&redis, &prefix)).await;
    let mut subscriber = Subscriber::join(&node).await;
    centrifuge::api_publish(&node, CHANNEL, json!({ "n": 1 })).await;
    subscriber.read_until(1).await;

    redis.restart().await; // no persistence: the stream and its epoch are gone
                           // Once the pub/sub connection is back, the node sees the old position
                           // cannot be served, and says so.
    let push = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let push = subscriber.client.next_push().await;
            if push.get("unsubscribe").is_some() {
                return push;
            }
        }
    })
    .await
    .expect("an unsubscribe push after redis came back empty");
    assert_eq!(push["unsubscribe"]["code"], 2500, "{push}");
    subscriber.resubscribe().await;
    assert_eq!(
        subscriber.recovered_false, 1,
        "recovery must report the loss"
    );

    // Live delivery goes on in the new stream.
    centrifuge::api_publish(&node, CHANNEL, json!({ "n": 2 })).await;
    subscriber.read_until(2).await;
    assert_eq!(subscriber.got, [1, 2]);
    drop(subscriber);
    node.server.shutdown().await;
}

#[tokio::test]
async fn a_node_started_degraded_serves_channels_once_redis_answers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let toml = channels_toml(&format!(
        r#"
[broker]
kind = "redis"
url = "redis://127.0.0.1:{port}"
prefix = "degraded-{}"
start_degraded = true

[[channels.namespaces]]
name = "chat"
history_size = 10
history_ttl_ms = 60000
"#,
        std::process::id()
    ));
    let node = TestServer::start(&toml).await;
    let readyz = || async {
        node.http
            .get(node.http_url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(readyz().await, 503, "not ready without redis");
    let mut client = Centrifuge::connect(&node.ws_url(PATH)).await;
    let code = client
        .error_code("subscribe", json!({ "channel": CHANNEL }))
        .await;
    assert_eq!(code, 100, "a temporary error while redis is away");
    let (_, body) = node
        .api("publish", json!({ "channel": CHANNEL, "data": { "n": 0 } }))
        .await;
    assert!(body.get("error").is_some(), "publish fails: {body}");

    let _redis = RedisServer::start_on(port).await.expect("redis starts");
    centrifuge::eventually("ready once redis answers", || async {
        readyz().await == 200
    })
    .await;
    // The pub/sub connection retries with backoff (at most 5 s apart).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let reply = client
            .command("subscribe", json!({ "channel": CHANNEL }))
            .await;
        if reply.get("error").is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscribe still fails: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    centrifuge::api_publish(&node, CHANNEL, json!({ "n": 1 })).await;
    let publication = client.next_publication(CHANNEL).await;
    assert_eq!(publication["data"]["n"], 1, "{publication}");
    drop(client);
    node.server.shutdown().await;
}
