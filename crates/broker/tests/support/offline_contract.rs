//! The offline store part of the contract suite (`contract.rs` includes
//! it): the same cases against memory, one `redis-server` and a Redis
//! Cluster. "Another node" is a second store on the same Redis and prefix
//! (for memory, the same store: there is only one node).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_broker::{
    now_ms, BrokerError, MemoryOffline, OfflineQueueOptions, OfflineStore, Publication,
    RedisOffline, RedisOptions,
};

use super::{info, publication, redis_cluster, unique_prefix, RedisServer, WAIT};

fn limits(size: usize, ttl: Duration) -> OfflineQueueOptions {
    OfflineQueueOptions { size, ttl }
}

fn numbered(channel_offset: u64, n: u64) -> Arc<Publication> {
    let mut p = publication(&format!("{{\"n\":{n}}}"));
    p.offset = channel_offset;
    Arc::new(p)
}

fn data(publications: &[Arc<Publication>]) -> Vec<String> {
    publications
        .iter()
        .map(|p| String::from_utf8_lossy(&p.data).into_owned())
        .collect()
}

async fn take(store: &dyn OfflineStore, channel: &str, user: &str) -> Vec<Arc<Publication>> {
    store
        .take(channel, user, Duration::from_secs(60), now_ms())
        .await
        .unwrap()
}

/// What every offline store must do; `a` and `b` are two nodes' handles.
async fn offline_contract(a: Arc<dyn OfflineStore>, b: Arc<dyn OfflineStore>) {
    let long = limits(10, Duration::from_secs(60));
    let ch = "p:inbox#alice,bob";

    // Nobody subscribed: kept for both, in order, whole (offset, info, tags).
    for n in 1..=3 {
        let mut p = (*numbered(n, n)).clone();
        if n == 1 {
            p.info = Some(Arc::new(info("pub", "u")));
            p.tags.insert("k".into(), "v".into());
        }
        let not_kept = a.push(ch, &["alice", "bob"], Arc::new(p), long).await;
        assert_eq!(not_kept.unwrap(), Vec::<String>::new());
    }
    assert_eq!(a.pending("alice").await.unwrap(), 3);
    assert_eq!(b.pending("bob").await.unwrap(), 3);
    let got = take(&*b, ch, "alice").await;
    assert_eq!(data(&got), ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
    assert_eq!(got.iter().map(|p| p.offset).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(got[0].info.as_deref(), Some(&info("pub", "u")));
    assert_eq!(got[0].tags.get("k").map(String::as_str), Some("v"));
    // Taking empties the queue; bob's is his own.
    assert!(take(&*a, ch, "alice").await.is_empty());
    assert_eq!(a.pending("alice").await.unwrap(), 0);
    assert_eq!(data(&take(&*a, ch, "bob").await).len(), 3);

    // Alice subscribed on node B: a publish through node A keeps it for bob only.
    b.subscribed(ch, "alice", "cb1").await.unwrap();
    a.push(ch, &["alice", "bob"], numbered(4, 4), long)
        .await
        .unwrap();
    assert_eq!(a.pending("alice").await.unwrap(), 0);
    assert_eq!(a.pending("bob").await.unwrap(), 1);
    // Two connections: leaving with one still counts as subscribed; refreshing is idempotent.
    b.subscribed(ch, "alice", "cb2").await.unwrap();
    b.subscribed(ch, "alice", "cb1").await.unwrap();
    b.unsubscribed(ch, "alice", "cb1").await.unwrap();
    a.push(ch, &["alice"], numbered(5, 5), long).await.unwrap();
    assert_eq!(a.pending("alice").await.unwrap(), 0);
    // Subscribed in one channel is not subscribed in another.
    a.push("p:other#alice", &["alice"], numbered(1, 1), long)
        .await
        .unwrap();
    assert_eq!(a.pending("alice").await.unwrap(), 1);
    b.unsubscribed(ch, "alice", "cb2").await.unwrap();
    b.unsubscribed(ch, "alice", "never").await.unwrap();
    a.push(ch, &["alice"], numbered(6, 6), long).await.unwrap();
    // Pending counts every channel.
    assert_eq!(b.pending("alice").await.unwrap(), 2);
    assert_eq!(data(&take(&*b, ch, "alice").await), ["{\"n\":6}"]);
    assert_eq!(data(&take(&*b, "p:other#alice", "alice").await).len(), 1);
    assert_eq!(b.pending("alice").await.unwrap(), 0);

    // Size: the oldest are dropped.
    let small = limits(3, Duration::from_secs(60));
    for n in 1..=5 {
        a.push("p:small#carol", &["carol"], numbered(0, n), small)
            .await
            .unwrap();
    }
    assert_eq!(a.pending("carol").await.unwrap(), 3);
    assert_eq!(
        data(&take(&*b, "p:small#carol", "carol").await),
        ["{\"n\":3}", "{\"n\":4}", "{\"n\":5}"]
    );

    // Age: publications older than the TTL are not handed out.
    let short = limits(10, Duration::from_secs(5));
    let mut old = publication("{\"old\":true}");
    old.time_ms = now_ms() - 10_000;
    a.push("p:age#dave", &["dave"], Arc::new(old), short)
        .await
        .unwrap();
    a.push("p:age#dave", &["dave"], numbered(0, 1), short)
        .await
        .unwrap();
    let got = b
        .take("p:age#dave", "dave", short.ttl, now_ms())
        .await
        .unwrap();
    assert_eq!(data(&got), ["{\"n\":1}"]);
    // And the `now` given decides.
    a.push("p:age#dave", &["dave"], numbered(0, 2), short)
        .await
        .unwrap();
    let later = now_ms() + 6_000;
    assert!(b
        .take("p:age#dave", "dave", short.ttl, later)
        .await
        .unwrap()
        .is_empty());

    // No users: nothing to do.
    assert!(a
        .push(ch, &[], numbered(0, 9), long)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(a.pending("nobody").await.unwrap(), 0);
}

#[tokio::test]
async fn memory_offline_contract() {
    let store: Arc<dyn OfflineStore> = Arc::new(MemoryOffline::new());
    offline_contract(store.clone(), store).await;
}

async fn redis_pair(options: RedisOptions) -> (Arc<dyn OfflineStore>, Arc<dyn OfflineStore>) {
    let a = RedisOffline::connect(options.clone()).await.unwrap();
    let b = RedisOffline::connect(options).await.unwrap();
    (Arc::new(a), Arc::new(b))
}

#[tokio::test]
async fn redis_offline_contract() {
    let server = RedisServer::start().await;
    let (a, b) = redis_pair(RedisOptions::new(server.url(), unique_prefix("offline"))).await;
    offline_contract(a, b).await;
}

#[tokio::test]
async fn redis_cluster_offline_contract() {
    let cluster = redis_cluster::RedisCluster::start().await;
    let options = RedisOptions::cluster(cluster.urls(), unique_prefix("offline"));
    let (a, b) = redis_pair(options).await;
    offline_contract(a, b).await;
}

/// The key layout the docs give, with expiries on everything.
#[tokio::test]
async fn redis_offline_keys_are_hash_tagged_and_expire() {
    let server = RedisServer::start().await;
    let prefix = unique_prefix("offkeys");
    let store = RedisOffline::connect(RedisOptions::new(server.url(), &prefix))
        .await
        .unwrap();
    let ch = "p:x#alice,bob";
    store.subscribed(ch, "bob", "c1").await.unwrap();
    let long = limits(10, Duration::from_secs(60));
    store
        .push(ch, &["alice", "bob"], numbered(0, 1), long)
        .await
        .unwrap();
    let mut con = super::raw(&server).await;
    for key in [
        format!("{prefix}:{{ch:{ch}}}:offline:alice"),
        format!("{prefix}:{{ch:{ch}}}:subs:bob"),
        format!("{prefix}:{{user:alice}}:offline"),
    ] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{key}: pttl {ttl}");
    }
    let absent: i64 = redis::cmd("EXISTS")
        .arg(format!("{prefix}:{{ch:{ch}}}:offline:bob"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(absent, 0, "bob is subscribed: nothing queued");
}

/// A node that dies leaves its subscription entries behind: they stop
/// counting once they expire, while a refreshed entry keeps counting.
#[tokio::test]
async fn redis_dead_nodes_subscriptions_expire() {
    let server = RedisServer::start().await;
    let options = RedisOptions::new(server.url(), unique_prefix("offexp"));
    let alive = RedisOffline::connect(options.clone())
        .await
        .unwrap()
        .with_ttl(Duration::from_millis(800));
    let dead = RedisOffline::connect(options.clone())
        .await
        .unwrap()
        .with_ttl(Duration::from_millis(300));
    let publisher = RedisOffline::connect(options).await.unwrap();
    let long = limits(10, Duration::from_secs(60));
    alive.subscribed("p:a#alice", "alice", "ca").await.unwrap();
    dead.subscribed("p:d#dave", "dave", "cd").await.unwrap();
    publisher
        .push("p:d#dave", &["dave"], numbered(0, 1), long)
        .await
        .unwrap();
    assert_eq!(publisher.pending("dave").await.unwrap(), 0);

    let deadline = Instant::now() + WAIT;
    let mut n = 2;
    loop {
        alive.subscribed("p:a#alice", "alice", "ca").await.unwrap();
        publisher
            .push("p:a#alice", &["alice"], numbered(0, n), long)
            .await
            .unwrap();
        publisher
            .push("p:d#dave", &["dave"], numbered(0, n), long)
            .await
            .unwrap();
        n += 1;
        if publisher.pending("dave").await.unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "dead node's entry never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        publisher.pending("alice").await.unwrap(),
        0,
        "a refreshed entry keeps counting"
    );
}

#[tokio::test]
async fn redis_offline_fails_within_bound_when_server_stops() {
    let mut server = RedisServer::start().await;
    let options = RedisOptions::new(server.url(), unique_prefix("offdown"));
    let store = RedisOffline::connect(options).await.unwrap();
    let long = limits(10, Duration::from_secs(60));
    store
        .push("p:x#a", &["a"], numbered(0, 1), long)
        .await
        .unwrap();
    server.kill();
    // The 5 s command bound, with room for a slow machine.
    let bound = Duration::from_secs(12);
    let push = tokio::time::timeout(bound, store.push("p:x#a", &["a"], numbered(0, 2), long));
    let push = push.await.expect("push must not hang");
    assert!(matches!(push, Err(BrokerError::Unavailable(_))), "{push:?}");
    let take = tokio::time::timeout(bound, store.take("p:x#a", "a", long.ttl, now_ms()));
    let take = take.await.expect("take must not hang");
    assert!(matches!(take, Err(BrokerError::Unavailable(_))), "{take:?}");
    let pending = tokio::time::timeout(bound, store.pending("a"));
    let pending = pending.await.expect("pending must not hang");
    assert!(
        matches!(pending, Err(BrokerError::Unavailable(_))),
        "{pending:?}"
    );
    let sub = tokio::time::timeout(bound, store.subscribed("p:x#a", "a", "c"));
    let sub = sub.await.expect("subscribed must not hang");
    assert!(matches!(sub, Err(BrokerError::Unavailable(_))), "{sub:?}");
    let unsub = tokio::time::timeout(bound, store.unsubscribed("p:x#a", "a", "c"));
    let unsub = unsub.await.expect("unsubscribed must not hang");
    assert!(
        matches!(unsub, Err(BrokerError::Unavailable(_))),
        "{unsub:?}"
    );
}
