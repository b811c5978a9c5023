//! The Redis stream sink against a real `redis-server`: entries in order
//! with their fields, read by a consumer group, trimmed by `MAXLEN ~`; and
//! Redis going away and coming back without losing an event.

mod common;
#[path = "../../broker/tests/support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use common::*;
use redis::AsyncCommands;
use redis_server::RedisServer;
use serde_json::{json, Value};

const STREAM: &str = "sb:events";

fn stream_config(redis: &RedisServer, store: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
[[endpoints]]
path = "/ws"
welcome = false

[sinks]
store_path = "{store}"

[[sinks.redis_streams]]
name = "stream"
url = "{url}"
stream = "{STREAM}"
events = ["message"]
timeout_ms = 500
{extra}

[sinks.redis_streams.delivery]
batch_size = 50
backoff_initial_ms = 50
backoff_max_ms = 300
max_attempts = 1000
"#,
        url = redis.url(),
        store = store.join("sinks.redb").display()
    )
}

async fn redis_conn(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("redis reachable")
}

/// Reads every entry through a consumer group, acknowledging each.
async fn read_group(conn: &mut redis::aio::MultiplexedConnection, want: usize) -> Vec<Value> {
    // BUSYGROUP when it exists already: fine.
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("workers")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT * 2;
    while out.len() < want {
        assert!(
            Instant::now() < deadline,
            "{} of {want} entries read",
            out.len()
        );
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg("w1")
            .arg("COUNT")
            .arg(100)
            .arg("BLOCK")
            .arg(200)
            .arg("STREAMS")
            .arg(STREAM)
            .arg(">")
            .query_async(conn)
            .await
            .expect("XREADGROUP");
        for key in reply.keys {
            for entry in key.ids {
                let field = |name: &str| -> String { entry.get(name).unwrap_or_default() };
                let data: Value = serde_json::from_str(&field("data")).expect("data is JSON");
                assert_eq!(field("id"), data["id"].as_str().unwrap());
                assert_eq!(field("event"), "message");
                assert_eq!(field("endpoint"), "/ws");
                assert_eq!(
                    field("connection"),
                    data["connection"]["id"].as_str().unwrap()
                );
                let _: i64 = conn.xack(STREAM, "workers", &[&entry.id]).await.unwrap();
                out.push(data);
            }
        }
    }
    out
}

fn numbers(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["message"]["n"].as_i64().unwrap())
        .collect()
}

async fn send_numbered(client: &mut Client, range: std::ops::Range<i64>) {
    for n in range {
        send_text(client, &json!({ "n": n }).to_string()).await;
    }
}

#[tokio::test]
async fn events_become_stream_entries_read_by_a_consumer_group() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&stream_config(&redis, dir.path(), "maxlen = 0")).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..120).await;
    let mut conn = redis_conn(&redis).await;
    let events = read_group(&mut conn, 120).await;
    assert_eq!(numbers(&events), (0..120).collect::<Vec<_>>());
    let pending: redis::streams::StreamPendingReply =
        conn.xpending(STREAM, "workers").await.unwrap();
    assert_eq!(pending.count(), 0, "every entry acknowledged");
}

#[tokio::test]
async fn the_stream_is_trimmed_to_about_maxlen() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&stream_config(&redis, dir.path(), "maxlen = 100")).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..1000).await;
    let mut conn = redis_conn(&redis).await;
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let (_, status) = server.api("sinks", json!({})).await;
        if status["result"]["sinks"][0]["delivered"] == 1000 {
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let len: usize = conn.xlen(STREAM).await.unwrap();
    // `~` trims whole radix-tree nodes (100 entries by default).
    assert!((100..300).contains(&len), "XLEN {len}");
}

#[tokio::test]
async fn redis_going_away_loses_nothing() {
    let mut redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&stream_config(&redis, dir.path(), "")).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..10).await;
    let mut conn = redis_conn(&redis).await;
    assert_eq!(
        numbers(&read_group(&mut conn, 10).await),
        (0..10).collect::<Vec<_>>()
    );

    redis.kill();
    send_numbered(&mut client, 10..40).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, status) = server.api("sinks", json!({})).await;
        let sink = &status["result"]["sinks"][0];
        if sink["queued"] == 30 && sink["failures"].as_u64() > Some(0) {
            assert!(
                sink["last_error"].as_str().unwrap().starts_with("redis"),
                "{sink}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis.restart().await;
    // The restarted server has no data: the group starts again from 0.
    let mut conn = redis_conn(&redis).await;
    assert_eq!(
        numbers(&read_group(&mut conn, 30).await),
        (10..40).collect::<Vec<_>>()
    );
}
