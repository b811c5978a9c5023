//! The Redis broker on a real Redis Cluster (three masters): what the
//! contract suite cannot show with one node — nodes seeded with different
//! cluster nodes sharing many channels spread over every slot range, and
//! seed addresses that are down.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_broker::{
    now_ms, Broker, BrokerError, BrokerHandler, ClientInfo, HistoryOptions, HistoryQuery,
    PresenceManager, Publication, RedisBroker, RedisOptions, RedisPresence, StreamPosition,
};
use tokio::sync::mpsc;

#[path = "support/redis_cluster.rs"]
mod redis_cluster;
use redis_cluster::RedisCluster;

const WAIT: Duration = Duration::from_secs(10);

struct Recorder(mpsc::UnboundedSender<(String, u64, String)>);

impl BrokerHandler for Recorder {
    fn on_publication(&self, channel: &str, p: Arc<Publication>, position: &StreamPosition) {
        let data = String::from_utf8_lossy(&p.data).into_owned();
        let _ = self.0.send((channel.to_owned(), position.offset, data));
    }
    fn on_join(&self, _: &str, _: Arc<ClientInfo>) {}
    fn on_leave(&self, _: &str, _: Arc<ClientInfo>) {}
}

fn publication(data: String) -> Publication {
    Publication {
        offset: 0,
        data: Bytes::from(data),
        info: None,
        tags: BTreeMap::new(),
        time_ms: now_ms(),
    }
}

fn prefix(test: &str) -> String {
    format!("sbcluster-{test}-{}", std::process::id())
}

/// A port nothing listens on.
fn dead_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("redis://127.0.0.1:{port}")
}

#[tokio::test]
async fn nodes_seeded_with_different_cluster_nodes_share_every_channel() {
    let cluster = RedisCluster::start().await;
    let urls = cluster.urls();
    let prefix = prefix("share");
    let a = RedisBroker::connect(RedisOptions::cluster(vec![urls[0].clone()], &prefix))
        .await
        .unwrap();
    let b = RedisBroker::connect(RedisOptions::cluster(vec![urls[2].clone()], &prefix))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    b.set_handler(Arc::new(Recorder(tx)));

    // Twenty channels cover all three slot ranges many times over.
    let channels: Vec<String> = (0..20).map(|i| format!("room{i}")).collect();
    for c in &channels {
        b.subscribe(c).await.unwrap();
    }
    let history = HistoryOptions {
        size: 10,
        ttl: Duration::from_secs(60),
    };
    for n in 1..=3u64 {
        for c in &channels {
            let pos = a
                .publish(c, publication(format!("{c}/{n}")), Some(history))
                .await
                .unwrap();
            assert_eq!(pos.offset, n);
        }
    }
    // Every publication reaches b, in offset order per channel.
    let mut seen: HashMap<String, Vec<u64>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    for _ in 0..channels.len() * 3 {
        let (channel, offset, data) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("every publication within the bound")
            .unwrap();
        assert_eq!(data, format!("{channel}/{offset}"));
        seen.entry(channel).or_default().push(offset);
    }
    for c in &channels {
        assert_eq!(seen[c], [1, 2, 3], "{c}");
        let page = b
            .history(c, &HistoryQuery::default(), history)
            .await
            .unwrap();
        let offsets: Vec<u64> = page.publications.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, [1, 2, 3], "{c}");
    }
    assert_eq!(cluster.nodes_holding_keys().await, 3);

    // Presence written through one seed is read through the other.
    let info = ClientInfo {
        user: "u".into(),
        client: "c".into(),
        conn_info: None,
        chan_info: None,
    };
    let pa = RedisPresence::from_broker(&a);
    let pb = RedisPresence::from_broker(&b);
    for c in &channels {
        pa.add(c, Arc::new(info.clone())).await.unwrap();
    }
    for c in &channels {
        assert_eq!(pb.stats(c).await.unwrap().num_clients, 1, "{c}");
    }
}

#[tokio::test]
async fn a_seed_that_is_down_is_skipped() {
    let cluster = RedisCluster::start().await;
    let mut urls = vec![dead_address()];
    urls.extend(cluster.urls());
    let broker = RedisBroker::connect(RedisOptions::cluster(urls, prefix("seed")))
        .await
        .expect("the first reachable seed is used");
    let (tx, mut rx) = mpsc::unbounded_channel();
    broker.set_handler(Arc::new(Recorder(tx)));
    broker.subscribe("x").await.unwrap();
    broker
        .publish("x", publication("hi".into()), None)
        .await
        .unwrap();
    let (channel, _, data) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((channel.as_str(), data.as_str()), ("x", "hi"));
}

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable_within_the_bound() {
    let options = RedisOptions::cluster(vec![dead_address(), dead_address()], "x");
    let started = Instant::now();
    match RedisBroker::connect(options).await {
        Err(BrokerError::Unavailable(msg)) => assert!(msg.contains("127.0.0.1"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(7));
}

#[tokio::test]
async fn several_addresses_without_cluster_mode_are_refused() {
    let options = RedisOptions {
        urls: vec![dead_address(), dead_address()],
        ..RedisOptions::new("", "x")
    };
    match RedisBroker::connect(options).await {
        Err(BrokerError::Unavailable(msg)) => assert!(msg.contains("cluster"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
