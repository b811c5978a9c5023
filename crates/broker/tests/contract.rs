//! One contract for every `Broker`, `PresenceManager` and `OfflineStore`
//! (the last in `support/offline_contract.rs`): the same test
//! functions run against the memory implementations and the Redis ones (on
//! a real `redis-server` started per test on a free port, with a unique key
//! prefix). Redis-only tests below cover what only several nodes, or a
//! real server that can fail, can show.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_broker::{
    now_ms, Broker, BrokerError, BrokerHandler, ClientInfo, HistoryOptions, HistoryQuery,
    MemoryBroker, MemoryPresence, PresenceManager, PresenceStats, Publication, RedisBroker,
    RedisOptions, RedisPresence, StreamPosition,
};
use tokio::sync::mpsc;

/// Bound on every wait for something to arrive.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- harness

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Publication {
        channel: String,
        publication: Publication,
        position: StreamPosition,
    },
    Join(String, ClientInfo),
    Leave(String, ClientInfo),
}

struct Recorder(mpsc::UnboundedSender<Event>);

impl BrokerHandler for Recorder {
    fn on_publication(
        &self,
        channel: &str,
        publication: Arc<Publication>,
        position: &StreamPosition,
    ) {
        let _ = self.0.send(Event::Publication {
            channel: channel.into(),
            publication: (*publication).clone(),
            position: position.clone(),
        });
    }
    fn on_join(&self, channel: &str, info: Arc<ClientInfo>) {
        let _ = self.0.send(Event::Join(channel.into(), (*info).clone()));
    }
    fn on_leave(&self, channel: &str, info: Arc<ClientInfo>) {
        let _ = self.0.send(Event::Leave(channel.into(), (*info).clone()));
    }
}

fn record(broker: &dyn Broker) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    broker.set_handler(Arc::new(Recorder(tx)));
    rx
}

/// The next event about `channel`. Events about other channels are
/// skipped: a broker may tell the handler about channels this node did not
/// subscribe to (the memory broker tells it everything; the hub ignores
/// channels without subscribers).
async fn next_in(rx: &mut mpsc::UnboundedReceiver<Event>, channel: &str) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no event within the bound")
            .expect("handler dropped");
        let about = match &event {
            Event::Publication { channel, .. } => channel,
            Event::Join(channel, _) | Event::Leave(channel, _) => channel,
        };
        if about == channel {
            return event;
        }
    }
}

fn publication(data: &str) -> Publication {
    Publication {
        offset: 0,
        data: Bytes::from(data.to_owned()),
        info: None,
        tags: BTreeMap::new(),
        time_ms: now_ms(),
    }
}

fn info(client: &str, user: &str) -> ClientInfo {
    ClientInfo {
        user: user.into(),
        client: client.into(),
        conn_info: Some(Bytes::from(format!("{{\"c\":\"{client}\"}}"))),
        chan_info: None,
    }
}

fn opts(size: usize, ttl: Duration) -> HistoryOptions {
    HistoryOptions { size, ttl }
}

fn offsets(page: &switchboard_broker::HistoryPage) -> Vec<u64> {
    page.publications.iter().map(|p| p.offset).collect()
}

fn query(since: Option<StreamPosition>, limit: Option<usize>, reverse: bool) -> HistoryQuery {
    HistoryQuery {
        since,
        limit,
        reverse,
    }
}

fn at(offset: u64, epoch: &str) -> Option<StreamPosition> {
    Some(StreamPosition {
        offset,
        epoch: epoch.into(),
    })
}

#[path = "support/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;

fn unique_prefix(test: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "sbtest-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn redis_broker(server: &RedisServer, prefix: &str) -> RedisBroker {
    RedisBroker::connect(RedisOptions::new(server.url(), prefix))
        .await
        .expect("connect")
}

// ---------------------------------------------------------------- contract

/// What every broker must do.
async fn broker_contract<B: Broker>(broker: B) {
    let mut events = record(&broker);
    let long = opts(10, Duration::from_secs(60));

    // Offsets 1..N in one epoch, delivered in order with matching positions.
    broker.subscribe("c1").await.unwrap();
    let mut epoch = String::new();
    for n in 1..=5u64 {
        let mut p = publication(&format!("{{\"n\":{n}}}"));
        if n == 1 {
            p.info = Some(Arc::new(info("pub", "u")));
            p.tags.insert("k".into(), "v".into());
        }
        let pos = broker.publish("c1", p, Some(long)).await.unwrap();
        assert_eq!(pos.offset, n);
        assert!(!pos.epoch.is_empty());
        if n > 1 {
            assert_eq!(pos.epoch, epoch, "one epoch");
        }
        epoch = pos.epoch;
    }
    for n in 1..=5u64 {
        match next_in(&mut events, "c1").await {
            Event::Publication {
                channel,
                publication,
                position,
            } => {
                assert_eq!(channel, "c1");
                assert_eq!(publication.offset, n);
                assert_eq!(position.offset, n);
                assert_eq!(position.epoch, epoch);
                assert_eq!(publication.data, Bytes::from(format!("{{\"n\":{n}}}")));
                if n == 1 {
                    assert_eq!(publication.info.as_deref(), Some(&info("pub", "u")));
                    assert_eq!(publication.tags.get("k").map(String::as_str), Some("v"));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    // History reads.
    let read = |q: HistoryQuery| {
        let b = &broker;
        async move { b.history("c1", &q, long).await }
    };
    let page = read(query(None, None, false)).await.unwrap();
    assert_eq!(offsets(&page), vec![1, 2, 3, 4, 5]);
    assert_eq!(page.position, at(5, &epoch).unwrap());
    assert_eq!(
        page.publications[0].info.as_deref(),
        Some(&info("pub", "u"))
    );
    assert_eq!(
        offsets(&read(query(None, None, true)).await.unwrap()),
        vec![5, 4, 3, 2, 1]
    );
    assert_eq!(
        offsets(&read(query(None, Some(2), false)).await.unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        offsets(&read(query(None, Some(2), true)).await.unwrap()),
        vec![5, 4]
    );
    let top_only = read(query(None, Some(0), false)).await.unwrap();
    assert!(top_only.publications.is_empty());
    assert_eq!(top_only.position.offset, 5);
    assert_eq!(
        offsets(&read(query(at(2, &epoch), None, false)).await.unwrap()),
        vec![3, 4, 5]
    );
    assert_eq!(
        offsets(&read(query(at(2, &epoch), Some(1), false)).await.unwrap()),
        vec![3]
    );
    assert!(read(query(at(5, &epoch), None, false))
        .await
        .unwrap()
        .publications
        .is_empty());
    assert_eq!(
        offsets(&read(query(at(3, &epoch), None, true)).await.unwrap()),
        vec![2, 1]
    );
    assert_eq!(
        read(query(at(2, "another-epoch"), None, false)).await,
        Err(BrokerError::UnrecoverablePosition)
    );
    assert_eq!(
        read(query(at(6, &epoch), None, false)).await,
        Err(BrokerError::UnrecoverablePosition)
    );

    // Size trimming: a gap after `since` is refused.
    let small = opts(3, Duration::from_secs(60));
    let mut e2 = String::new();
    for _ in 0..5 {
        e2 = broker
            .publish("c2", publication("{}"), Some(small))
            .await
            .unwrap()
            .epoch;
    }
    let page = broker
        .history("c2", &HistoryQuery::default(), small)
        .await
        .unwrap();
    assert_eq!(offsets(&page), vec![3, 4, 5]);
    assert_eq!(
        offsets(
            &broker
                .history("c2", &query(at(2, &e2), None, false), small)
                .await
                .unwrap()
        ),
        vec![3, 4, 5]
    );
    assert_eq!(
        broker
            .history("c2", &query(at(1, &e2), None, false), small)
            .await,
        Err(BrokerError::UnrecoverablePosition)
    );

    // Trimming by age: an expired publication is not returned, and a
    // recovery that needs it is refused; offsets carry on.
    let short = opts(10, Duration::from_secs(5));
    let mut old = publication("{\"old\":true}");
    old.time_ms = now_ms() - 10_000;
    let e3 = broker.publish("c3", old, Some(short)).await.unwrap().epoch;
    let page = broker
        .history("c3", &HistoryQuery::default(), short)
        .await
        .unwrap();
    assert!(page.publications.is_empty());
    assert_eq!(page.position, at(1, &e3).unwrap());
    assert_eq!(
        broker
            .history("c3", &query(at(0, &e3), None, false), short)
            .await,
        Err(BrokerError::UnrecoverablePosition)
    );
    assert_eq!(
        broker
            .publish("c3", publication("{}"), Some(short))
            .await
            .unwrap()
            .offset,
        2
    );
    assert_eq!(
        offsets(
            &broker
                .history("c3", &query(at(1, &e3), None, false), short)
                .await
                .unwrap()
        ),
        vec![2]
    );

    // remove_history keeps offsets and epoch.
    broker.remove_history("c1").await.unwrap();
    let page = read(query(None, None, false)).await.unwrap();
    assert!(page.publications.is_empty());
    assert_eq!(page.position, at(5, &epoch).unwrap());
    let pos = broker
        .publish("c1", publication("{\"n\":6}"), Some(long))
        .await
        .unwrap();
    assert_eq!(pos, at(6, &epoch).unwrap());
    assert!(matches!(
        next_in(&mut events, "c1").await,
        Event::Publication { position, .. } if position.offset == 6
    ));

    // A fresh channel's position: offset 0 and an epoch that the first publish keeps.
    let empty = broker
        .history("c5", &HistoryQuery::default(), long)
        .await
        .unwrap();
    assert_eq!(empty.position.offset, 0);
    assert!(!empty.position.epoch.is_empty());
    let first = broker
        .publish("c5", publication("{}"), Some(long))
        .await
        .unwrap();
    assert_eq!(first, at(1, &empty.position.epoch).unwrap());

    // Without history: delivered with offset 0.
    broker.subscribe("c4").await.unwrap();
    let pos = broker
        .publish("c4", publication("{\"x\":1}"), None)
        .await
        .unwrap();
    assert_eq!(pos.offset, 0);
    match next_in(&mut events, "c4").await {
        Event::Publication {
            channel,
            publication,
            position,
        } => {
            assert_eq!(channel, "c4");
            assert_eq!(publication.offset, 0);
            assert_eq!(position.offset, 0);
            assert_eq!(publication.data, Bytes::from_static(b"{\"x\":1}"));
        }
        other => panic!("unexpected {other:?}"),
    }

    // Join and leave reach the handler.
    broker
        .publish_join("c4", Arc::new(info("j1", "u1")))
        .await
        .unwrap();
    broker
        .publish_leave("c4", Arc::new(info("j1", "u1")))
        .await
        .unwrap();
    assert_eq!(
        next_in(&mut events, "c4").await,
        Event::Join("c4".into(), info("j1", "u1"))
    );
    assert_eq!(
        next_in(&mut events, "c4").await,
        Event::Leave("c4".into(), info("j1", "u1"))
    );

    broker.unsubscribe("c1").await.unwrap();
    broker.unsubscribe("c4").await.unwrap();
}

/// What every presence manager must do.
async fn presence_contract<P: PresenceManager>(presence: P) {
    assert_eq!(
        presence.stats("room").await.unwrap(),
        PresenceStats::default()
    );
    assert!(presence.presence("room").await.unwrap().is_empty());
    for (client, user) in [("c1", "u1"), ("c2", "u1"), ("c3", "u2")] {
        presence
            .add("room", Arc::new(info(client, user)))
            .await
            .unwrap();
    }
    // Refreshing is idempotent.
    presence
        .add("room", Arc::new(info("c1", "u1")))
        .await
        .unwrap();
    assert_eq!(
        presence.stats("room").await.unwrap(),
        PresenceStats {
            num_clients: 3,
            num_users: 2
        }
    );
    let all = presence.presence("room").await.unwrap();
    let mut clients: Vec<&String> = all.keys().collect();
    clients.sort();
    assert_eq!(clients, ["c1", "c2", "c3"]);
    assert_eq!(*all["c3"], info("c3", "u2"));
    presence.remove("room", "c2").await.unwrap();
    presence.remove("room", "nobody").await.unwrap();
    assert_eq!(
        presence.stats("room").await.unwrap(),
        PresenceStats {
            num_clients: 2,
            num_users: 2
        }
    );
    assert!(presence.presence("other").await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_broker_contract() {
    broker_contract(MemoryBroker::new()).await;
}

#[tokio::test]
async fn memory_presence_contract() {
    presence_contract(MemoryPresence::new()).await;
}

#[tokio::test]
async fn redis_broker_contract() {
    let server = RedisServer::start().await;
    broker_contract(redis_broker(&server, &unique_prefix("contract")).await).await;
}

#[tokio::test]
async fn redis_presence_contract() {
    let server = RedisServer::start().await;
    let options = RedisOptions::new(server.url(), unique_prefix("presence"));
    presence_contract(RedisPresence::connect(options).await.unwrap()).await;
}

#[path = "support/redis_cluster.rs"]
mod redis_cluster;

#[path = "support/offline_contract.rs"]
mod offline_contract;

/// The contract's channels c1, c2 and c3 hash to slots on three different
/// masters, so a script touching keys of two slots, or pub/sub that misses
/// a node, fails here.
#[tokio::test]
async fn redis_cluster_broker_contract() {
    let cluster = redis_cluster::RedisCluster::start().await;
    let options = RedisOptions::cluster(cluster.urls(), unique_prefix("cluster"));
    broker_contract(RedisBroker::connect(options).await.expect("connect")).await;
    assert_eq!(
        cluster.nodes_holding_keys().await,
        3,
        "channels spread over every node"
    );
}

#[tokio::test]
async fn redis_cluster_presence_contract() {
    let cluster = redis_cluster::RedisCluster::start().await;
    let options = RedisOptions::cluster(cluster.urls(), unique_prefix("presence"));
    presence_contract(RedisPresence::connect(options).await.unwrap()).await;
}

// ---------------------------------------------------------------- Redis only

#[tokio::test]
async fn redis_two_nodes_share_publications_history_and_presence() {
    let server = RedisServer::start().await;
    let prefix = unique_prefix("nodes");
    let a = redis_broker(&server, &prefix).await;
    let b = redis_broker(&server, &prefix).await;
    let _a_events = record(&a);
    let mut b_events = record(&b);
    let long = opts(10, Duration::from_secs(60));
    b.subscribe("news").await.unwrap();

    let p1 = a
        .publish("news", publication("{\"from\":\"a\"}"), Some(long))
        .await
        .unwrap();
    let p2 = b
        .publish("news", publication("{\"from\":\"b\"}"), Some(long))
        .await
        .unwrap();
    assert_eq!((p1.offset, p2.offset), (1, 2), "offsets are shared");
    assert_eq!(p1.epoch, p2.epoch);
    for (n, from) in [(1, "a"), (2, "b")] {
        match next_in(&mut b_events, "news").await {
            Event::Publication {
                publication,
                position,
                ..
            } => {
                assert_eq!(position.offset, n);
                assert_eq!(
                    publication.data,
                    Bytes::from(format!("{{\"from\":\"{from}\"}}"))
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let page = a
        .history("news", &HistoryQuery::default(), long)
        .await
        .unwrap();
    assert_eq!(offsets(&page), vec![1, 2]);

    // A node without the channel gets nothing; join from A reaches B.
    a.publish_join("news", Arc::new(info("x", "ux")))
        .await
        .unwrap();
    assert_eq!(
        next_in(&mut b_events, "news").await,
        Event::Join("news".into(), info("x", "ux"))
    );

    // Presence is the union of both nodes' entries.
    let pa = RedisPresence::from_broker(&a);
    let pb = RedisPresence::from_broker(&b);
    pa.add("news", Arc::new(info("ca", "u1"))).await.unwrap();
    pb.add("news", Arc::new(info("cb", "u2"))).await.unwrap();
    for p in [&pa, &pb] {
        assert_eq!(
            p.stats("news").await.unwrap(),
            PresenceStats {
                num_clients: 2,
                num_users: 2
            }
        );
    }

    // Subscribe/unsubscribe are counted: an unsubscribe racing with a new
    // first subscribe leaves the channel subscribed.
    b.subscribe("news").await.unwrap();
    b.unsubscribe("news").await.unwrap();
    a.publish("news", publication("{}"), None).await.unwrap();
    assert!(matches!(
        next_in(&mut b_events, "news").await,
        Event::Publication { .. }
    ));
}

#[tokio::test]
async fn redis_epoch_changes_when_meta_is_lost() {
    let server = RedisServer::start().await;
    let prefix = unique_prefix("epoch");
    let broker = redis_broker(&server, &prefix).await;
    let long = opts(10, Duration::from_secs(60));
    broker
        .publish("ch", publication("{}"), Some(long))
        .await
        .unwrap();
    let old = broker
        .publish("ch", publication("{}"), Some(long))
        .await
        .unwrap();
    assert_eq!(old.offset, 2);

    let mut con = raw(&server).await;
    let deleted: i64 = redis::cmd("DEL")
        .arg(format!("{prefix}:{{ch:ch}}:meta"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(
        deleted, 1,
        "the key layout is {{prefix}}:{{ch:<channel>}}:meta"
    );

    let new = broker
        .publish("ch", publication("{}"), Some(long))
        .await
        .unwrap();
    assert_eq!(new.offset, 1);
    assert_ne!(new.epoch, old.epoch);
    assert_eq!(
        broker
            .history("ch", &query(Some(old.clone()), None, false), long)
            .await,
        Err(BrokerError::UnrecoverablePosition)
    );
    let page = broker
        .history("ch", &HistoryQuery::default(), long)
        .await
        .unwrap();
    assert_eq!(
        offsets(&page),
        vec![1],
        "the old stream went with its epoch"
    );
    assert_eq!(page.position, new);
}

#[tokio::test]
async fn redis_unreachable_at_connect_is_unavailable_within_bound() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed once the listener is dropped
    let options = RedisOptions::new(format!("redis://127.0.0.1:{port}"), "x");
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(8),
        RedisBroker::connect(options.clone()),
    )
    .await
    .expect("connect must be bounded");
    match result {
        Err(BrokerError::Unavailable(msg)) => assert!(msg.contains("redis"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(7));
    let presence = tokio::time::timeout(Duration::from_secs(8), RedisPresence::connect(options))
        .await
        .expect("connect must be bounded");
    assert!(matches!(presence, Err(BrokerError::Unavailable(_))));

    let bad = RedisOptions::new("redis://127.0.0.1:1", "a{b}");
    assert!(matches!(
        RedisBroker::connect(bad).await,
        Err(BrokerError::Unavailable(_))
    ));
}

#[tokio::test]
async fn redis_publish_fails_within_bound_when_server_stops() {
    let mut server = RedisServer::start().await;
    let broker = redis_broker(&server, &unique_prefix("down")).await;
    let presence = RedisPresence::from_broker(&broker);
    let long = opts(10, Duration::from_secs(60));
    broker
        .publish("ch", publication("{}"), Some(long))
        .await
        .unwrap();
    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        let result = tokio::time::timeout(
            Duration::from_secs(12),
            broker.publish("ch", publication("{}"), Some(long)),
        )
        .await
        .expect("publish must not hang");
        assert!(
            matches!(result, Err(BrokerError::Unavailable(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(11));
    }
    let history = tokio::time::timeout(
        Duration::from_secs(12),
        broker.history("ch", &HistoryQuery::default(), long),
    )
    .await
    .expect("history must not hang");
    assert!(matches!(history, Err(BrokerError::Unavailable(_))));
    let stats = tokio::time::timeout(Duration::from_secs(12), presence.stats("ch"))
        .await
        .expect("presence must not hang");
    assert!(matches!(stats, Err(BrokerError::Unavailable(_))));
    let sub = tokio::time::timeout(Duration::from_secs(12), broker.subscribe("other"))
        .await
        .expect("subscribe must not hang");
    assert!(matches!(sub, Err(BrokerError::Unavailable(_))), "{sub:?}");
    drop(broker);
}

#[tokio::test]
async fn redis_pubsub_resubscribes_after_server_restart() {
    let mut server = RedisServer::start().await;
    let port = server.port;
    let prefix = unique_prefix("restart");
    let node = redis_broker(&server, &prefix).await;
    let mut events = record(&node);
    node.subscribe("ch").await.unwrap();
    server.kill();
    let server = RedisServer::start_on(port)
        .await
        .expect("restart on the same port");
    let other = redis_broker(&server, &prefix).await;

    // Publish until the reconnected node hears one (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no delivery after the restart");
        other
            .publish("ch", publication("{\"again\":1}"), None)
            .await
            .unwrap();
        if let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(200), events.recv()).await
        {
            assert!(matches!(event, Event::Publication { ref channel, .. } if channel == "ch"));
            break;
        }
    }
    // And the command connection works again too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.publish("ch", publication("{}"), None).await.is_err() {
        assert!(Instant::now() < deadline, "commands did not reconnect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        node.reconnects() >= 1,
        "the reconnect is counted for metrics"
    );
}

#[tokio::test]
async fn redis_undecodable_messages_are_skipped() {
    let server = RedisServer::start().await;
    let prefix = unique_prefix("garbage");
    let broker = redis_broker(&server, &prefix).await;
    let mut events = record(&broker);
    broker.subscribe("ch").await.unwrap();
    let mut con = raw(&server).await;
    for garbage in [&b"zzz"[..], b"p1:e:\xff\xff\xff", b""] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{prefix}:pub:ch"))
            .arg(garbage)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    broker
        .publish("ch", publication("{\"ok\":1}"), None)
        .await
        .unwrap();
    match next_in(&mut events, "ch").await {
        Event::Publication { publication, .. } => {
            assert_eq!(publication.data, Bytes::from_static(b"{\"ok\":1}"))
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn redis_presence_entries_expire_without_refresh() {
    let server = RedisServer::start().await;
    let options = RedisOptions::new(server.url(), unique_prefix("expiry"));
    let presence = RedisPresence::connect(options)
        .await
        .unwrap()
        .with_ttl(Duration::from_millis(300));
    presence
        .add("room", Arc::new(info("c1", "u1")))
        .await
        .unwrap();
    assert_eq!(presence.stats("room").await.unwrap().num_clients, 1);
    let deadline = Instant::now() + WAIT;
    while !presence.presence("room").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "entry did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        presence.stats("room").await.unwrap(),
        PresenceStats::default()
    );
}

#[tokio::test]
async fn redis_dropping_the_broker_closes_its_subscription() {
    let server = RedisServer::start().await;
    let prefix = unique_prefix("drop");
    let broker = redis_broker(&server, &prefix).await;
    broker.subscribe("ch").await.unwrap();
    let mut con = raw(&server).await;
    let numsub = |con: &mut redis::aio::MultiplexedConnection| {
        let mut con = con.clone();
        let name = format!("{prefix}:pub:ch");
        async move {
            let reply: HashMap<String, i64> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&name)
                .query_async(&mut con)
                .await
                .unwrap();
            reply.get(&name).copied().unwrap_or(0)
        }
    };
    assert_eq!(numsub(&mut con).await, 1);
    drop(broker);
    let deadline = Instant::now() + WAIT;
    while numsub(&mut con).await != 0 {
        assert!(
            Instant::now() < deadline,
            "pub/sub connection outlived the broker"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
