//! The webhook sink against a real HTTP target that fails on purpose:
//! signatures, order, answers, retries with backoff, a target that is
//! down (the backlog spills to the store and nothing is lost), dead
//! letters that survive a restart and replay, the backlog surviving a
//! restart, busy admission, batches, and `reply_to`.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;
#[path = "common/hook_target.rs"]
mod hook_target;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hmac::{Hmac, Mac};
use hook_target::{free_port, HookTarget, Plan};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "hook-secret";

/// A raw endpoint at /ws whose `message` events go to the webhook at `url`;
/// `delivery` lines go into `[sinks.webhooks.delivery]`.
fn hook_config(url: &str, store: &Path, webhook: &str, delivery: &str) -> String {
    format!(
        r#"
[[endpoints]]
path = "/ws"
welcome = false

[sinks]
store_path = "{store}"

[[sinks.webhooks]]
name = "hook"
url = "{url}"
secret = "{SECRET}"
events = ["message"]
{webhook}

[sinks.webhooks.delivery]
backoff_initial_ms = 50
backoff_max_ms = 400
{delivery}
"#,
        store = store.join("sinks.redb").display()
    )
}

fn json_of(message: Message) -> Value {
    serde_json::from_str(message.to_text().expect("text")).expect("JSON")
}

async fn sink_status(server: &TestServer) -> Value {
    let (status, body) = server.api("sinks", json!({})).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["sinks"][0].clone()
}

/// Polls the `sinks` status until `check` holds.
async fn wait_status(server: &TestServer, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT * 2;
    loop {
        let status = sink_status(server).await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: status stayed {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn dead_letters(server: &TestServer) -> Value {
    let (status, body) = server.api("dead_letters", json!({"sink": "hook"})).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

fn numbers(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e["message"]["n"].as_i64().expect("n"))
        .collect()
}

async fn send_numbered(client: &mut Client, range: std::ops::Range<i64>) {
    for n in range {
        send_text(client, &json!({ "n": n }).to_string()).await;
    }
}

fn hmac_hex(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn events_arrive_signed_in_order_and_answers_reach_the_sender() {
    let target = HookTarget::start(0, vec![], Plan::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(&hook_config(&target.url(), dir.path(), "", "")).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..20).await;
    for n in 0..20 {
        assert_eq!(
            json_of(next_message(&mut client).await),
            json!({"echo": {"n": n}})
        );
    }
    let received = target.received();
    assert_eq!(numbers(&target.events()), (0..20).collect::<Vec<_>>());
    for request in &received {
        let timestamp = request.header("x-switchboard-timestamp");
        assert_eq!(
            request.header("x-switchboard-signature"),
            format!("sha256={}", hmac_hex(timestamp, &request.raw))
        );
        assert_eq!(request.header("idempotency-key"), request.body["id"]);
        assert_eq!(request.header("x-switchboard-event"), "message");
        assert!(request.body["reply_to"]
            .as_str()
            .is_some_and(|r| !r.is_empty()));
    }
    let status = sink_status(&server).await;
    assert_eq!(
        (status["delivered"].as_u64(), status["queued"].as_u64()),
        (Some(20), Some(0))
    );
}

#[tokio::test]
async fn failures_are_retried_with_growing_waits_and_order_holds() {
    let plans = vec![
        Plan::Status(500),
        Plan::Status(503),
        Plan::Slow(Duration::from_millis(1500)),
    ];
    let target = HookTarget::start(0, plans, Plan::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(&target.url(), dir.path(), "timeout_ms = 300", "");
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..3).await;
    let events = target.wait_events(6).await;
    // Three failed attempts of event 0, its success, then 1 and 2.
    assert_eq!(numbers(&events), [0, 0, 0, 0, 1, 2]);
    let received = target.received();
    let key = received[0].header("idempotency-key").to_owned();
    assert!(received[..4]
        .iter()
        .all(|r| r.header("idempotency-key") == key));
    let gaps: Vec<Duration> = received[..4]
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .collect();
    // Backoff 50 ms doubling, each wait in the upper half of its step; the
    // third attempt also spent the 300 ms timeout.
    assert!(gaps[0] >= Duration::from_millis(25), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(50), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(300 + 100), "{gaps:?}");
    for n in 0..3 {
        assert_eq!(
            json_of(next_message(&mut client).await),
            json!({"echo": {"n": n}})
        );
    }
    let status = wait_status(&server, "all delivered", |s| s["delivered"] == 3).await;
    assert_eq!(status["failures"], 3);
    assert!(
        status["last_error"].as_str().unwrap().contains("timed out"),
        "{status}"
    );
}

#[tokio::test]
async fn a_target_that_is_down_spills_to_the_store_and_loses_nothing() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let config = hook_config(
        &url,
        dir.path(),
        "",
        "memory_events = 5\nmax_attempts = 1000",
    );
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..30).await;
    let status = wait_status(&server, "30 queued", |s| s["queued"] == 30).await;
    assert_eq!(status["on_disk"], 25, "five stay in memory, the rest spill");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{status}"
    );
    let target = HookTarget::start(port, vec![], Plan::Ok).await;
    let events = target.wait_events(30).await;
    assert_eq!(numbers(&events), (0..30).collect::<Vec<_>>());
    let status = wait_status(&server, "drained", |s| s["queued"] == 0).await;
    assert_eq!(
        (status["on_disk"].as_u64(), status["delivered"].as_u64()),
        (Some(0), Some(30))
    );
    let metrics = server.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_sink_events_total{sink="hook",outcome="spilled"}"#
        ),
        25
    );
}

#[tokio::test]
async fn dead_letters_survive_a_restart_and_replay_delivers_them() {
    let target = HookTarget::start(0, vec![], Plan::Status(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(&target.url(), dir.path(), "", "max_attempts = 2");
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..3).await;
    wait_status(&server, "3 dead", |s| s["dead_lettered"] == 3).await;
    assert_eq!(target.received().len(), 6, "two attempts each");
    drop(client);
    server.server.shutdown().await;

    let server = TestServer::start(&config).await;
    let dead = dead_letters(&server).await;
    assert_eq!(dead["total"], 3, "{dead}");
    let letters = dead["dead_letters"].as_array().unwrap();
    assert_eq!(
        numbers(
            &letters
                .iter()
                .map(|l| l["event"].clone())
                .collect::<Vec<_>>()
        ),
        [0, 1, 2]
    );
    assert_eq!(letters[0]["attempts"], 2);
    assert!(
        letters[0]["error"].as_str().unwrap().contains("500"),
        "{dead}"
    );

    target.answer_with(Plan::Ok);
    let (_, replayed) = server
        .api("dead_letter_replay", json!({"sink": "hook"}))
        .await;
    assert_eq!(replayed["result"]["replayed"], 3, "{replayed}");
    let events = target.wait_events(9).await;
    assert_eq!(numbers(&events[6..]), [0, 1, 2]);
    assert_eq!(
        events[6]["id"], letters[0]["event"]["id"],
        "the same event, same id"
    );
    assert_eq!(dead_letters(&server).await["total"], 0);

    // A refusal (4xx) is not retried: one attempt, then a dead letter.
    target.answer_with(Plan::Status(422));
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 3..4).await;
    wait_status(&server, "refused one dead", |s| s["dead_lettered"] == 1).await;
    assert_eq!(target.received().len(), 10);
    let dead = dead_letters(&server).await;
    assert_eq!(dead["dead_letters"][0]["attempts"], 1);
    let (_, purged) = server
        .api("dead_letter_purge", json!({"sink": "hook"}))
        .await;
    assert_eq!(purged["result"]["purged"], 1);
    let (_, unknown) = server.api("dead_letters", json!({"sink": "nope"})).await;
    assert_eq!(unknown["error"]["code"], 107, "{unknown}");
}

#[tokio::test]
async fn the_backlog_survives_a_restart_in_order() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let config = hook_config(&url, dir.path(), "", "max_attempts = 1000");
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..10).await;
    wait_status(&server, "10 queued", |s| s["queued"] == 10).await;
    drop(client);
    server.server.shutdown().await;

    let target = HookTarget::start(port, vec![], Plan::Ok).await;
    let server = TestServer::start(&config).await;
    let events = target.wait_events(10).await;
    assert_eq!(numbers(&events), (0..10).collect::<Vec<_>>());
    wait_status(&server, "drained", |s| s["queued"] == 0).await;
}

#[tokio::test]
async fn a_busy_backlog_refuses_messages_and_connections() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let config = hook_config(
        &url,
        dir.path(),
        "",
        "busy_backlog = 3\nmax_attempts = 1000",
    );
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..4).await;
    wait_status(&server, "busy", |s| s["busy"] == true).await;
    send_numbered(&mut client, 4..5).await;
    let refused = json_of(next_message(&mut client).await);
    assert_eq!(refused["error"], "busy", "{refused}");
    let (mut late, _) = tokio_tungstenite::connect_async(server.ws_url("/ws"))
        .await
        .expect("upgrade");
    assert_eq!(expect_close(&mut late).await.0, 1013);
    let metrics = server.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_connections_rejected_total{endpoint="/ws",reason="busy"}"#
        ),
        1
    );
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_messages_busy_total{endpoint="/ws"}"#
        ),
        1
    );

    // Once the target is back and the backlog drains, messages are taken again.
    let target = HookTarget::start(port, vec![], Plan::Ok).await;
    target.wait_events(4).await;
    wait_status(&server, "not busy", |s| s["busy"] == false).await;
    send_numbered(&mut client, 5..6).await;
    assert_eq!(numbers(&target.wait_events(5).await), [0, 1, 2, 3, 5]);
}

#[tokio::test]
async fn batches_carry_many_events_and_answer_each() {
    let target = HookTarget::start(0, vec![], Plan::Echo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(
        &target.url(),
        dir.path(),
        "",
        "batch_size = 10\nlinger_ms = 100",
    );
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..25).await;
    let events = target.wait_events(25).await;
    assert_eq!(numbers(&events), (0..25).collect::<Vec<_>>());
    let requests = target.received();
    assert!(
        requests.len() <= 5,
        "{} requests for 25 events",
        requests.len()
    );
    assert!(requests.iter().all(|r| r.body.is_array()));
    let first = &requests[0];
    let ids = first.events();
    assert_eq!(
        first.header("idempotency-key"),
        format!("{}+{}", ids[0]["id"].as_str().unwrap(), ids.len() - 1)
    );
    for n in 0..25 {
        assert_eq!(
            json_of(next_message(&mut client).await),
            json!({"echo": {"n": n}})
        );
    }
}

#[tokio::test]
async fn reply_to_reaches_the_connection_then_its_user_then_waits_for_them() {
    let target = HookTarget::start(0, vec![], Plan::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = "reply-to-secret-reply-to-secret-0123";
    let config = format!(
        "{}\n[auth.jwt]\nhmac_secret = \"{secret}\"\n\n[[endpoints]]\npath = \"/users\"\nwelcome = false\n[endpoints.auth]\nmode = \"jwt\"\nsources = [\"query\"]\n",
        hook_config(&target.url(), dir.path(), "", "")
    );
    let mut server = TestServer::start(&config).await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": "alice", "exp": switchboard_auth::unix_now() + 600}),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let url = format!("/users?token={token}");

    // A handle of a live connection reaches it.
    let mut anonymous = server.connect("/ws").await;
    send_numbered(&mut anonymous, 0..1).await;
    let handle = target.wait_events(1).await[0]["reply_to"].clone();
    let (_, sent) = server
        .api("send", json!({"reply_to": handle, "data": {"late": 1}}))
        .await;
    assert_eq!(sent["result"]["delivered"], 1, "{sent}");
    assert_eq!(
        json_of(next_message(&mut anonymous).await),
        json!({"late": 1})
    );

    // Alice's first connection is gone; her next one gets the answer.
    let mut first = server.connect(&url).await;
    send_numbered(&mut first, 1..2).await;
    let handle = target.wait_events(2).await[1]["reply_to"].clone();
    drop(first);
    // `anonymous` is still open: the next disconnect is alice's first connection.
    server.next_event(EventType::Disconnect).await;
    let mut second = server.connect(&url).await;
    let (_, sent) = server
        .api(
            "send",
            json!({"reply_to": handle, "data": {"for": "alice"}}),
        )
        .await;
    assert_eq!(sent["result"]["delivered"], 1, "{sent}");
    assert_eq!(
        json_of(next_message(&mut second).await),
        json!({"for": "alice"})
    );

    // Alice has no connection at all: the reply is held for her next one.
    drop(second);
    server.next_event(EventType::Disconnect).await;
    let (_, held) = server
        .api(
            "send",
            json!({"reply_to": handle, "data": {"while": "away"}}),
        )
        .await;
    assert_eq!(
        (
            held["result"]["delivered"].as_u64(),
            held["result"]["held"].as_bool()
        ),
        (Some(0), Some(true)),
        "{held}"
    );
    let mut third = server.connect(&url).await;
    assert_eq!(
        json_of(next_message(&mut third).await),
        json!({"while": "away"})
    );

    // The handle of an anonymous connection that is gone reaches no one.
    drop(anonymous);
    server.next_event(EventType::Disconnect).await;
    let gone = target.events()[0]["reply_to"].clone();
    let (_, sent) = server
        .api("send", json!({"reply_to": gone, "data": 1}))
        .await;
    assert_eq!(sent["result"]["delivered"], 0, "{sent}");
    let (_, junk) = server
        .api("send", json!({"reply_to": "not-a-handle!", "data": 1}))
        .await;
    assert_eq!(junk["error"]["code"], 107, "{junk}");
    let (_, both) = server
        .api("send", json!({"reply_to": gone, "user": "x", "data": 1}))
        .await;
    assert_eq!(both["error"]["code"], 107, "{both}");
}

#[tokio::test]
async fn messages_that_break_the_schema_are_refused_and_never_reach_the_workflow() {
    let target = HookTarget::start(0, vec![], Plan::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("message.json");
    std::fs::write(
        &schema,
        json!({
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer", "minimum": 0}, "tags": {"type": "array", "items": {"type": "string"}}}
        })
        .to_string(),
    )
    .unwrap();
    let config = hook_config(&target.url(), dir.path(), "", "").replace(
        "welcome = false",
        &format!(
            "welcome = false\nmessage_schema_file = \"{}\"",
            schema.display()
        ),
    );
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    for (bad, path) in [
        (json!({"n": -1}), "/n"),
        (json!({"n": 1, "tags": ["a", 2]}), "/tags/1"),
        (json!({"m": 1}), ""),
    ] {
        send_text(&mut client, &bad.to_string()).await;
        let refused = json_of(next_message(&mut client).await);
        assert_eq!(refused["error"], "invalid_message", "{refused}");
        assert_eq!(refused["path"], path, "{refused}");
    }
    send_text(&mut client, "not json").await;
    assert_eq!(
        json_of(next_message(&mut client).await)["error"],
        "invalid_message"
    );
    send_numbered(&mut client, 7..8).await;
    assert_eq!(numbers(&target.wait_events(1).await), [7]);
    let metrics = server.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_messages_invalid_total{endpoint="/ws"}"#
        ),
        4
    );
    assert_eq!(
        target.events().len(),
        1,
        "only the valid message reached the target"
    );

    // A schema file that is not JSON stops the server from starting, naming the key.
    std::fs::write(&schema, "{nope").unwrap();
    let err = switchboard::Server::builder()
        .config(common::config(&config))
        .start()
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("endpoints[0].message_schema_file"),
        "{err}"
    );
}

#[tokio::test]
async fn receipts_tell_the_client_its_message_reached_the_workflow() {
    let done = json!({"result": {"order": 42}});
    let target = HookTarget::start(0, vec![Plan::Json(done)], Plan::Status(422)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(&target.url(), dir.path(), "", "max_attempts = 1")
        .replace("welcome = false", "welcome = false\nreceipts = true");
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_text(&mut client, r#"{"n": 1, "receipt": "r1"}"#).await;
    let accepted = json_of(next_message(&mut client).await);
    let event = &target.wait_events(1).await[0];
    assert_eq!(
        event["message"],
        json!({"n": 1}),
        "the tag is not part of the message"
    );
    assert_eq!(event["receipt"], "r1");
    assert_eq!(
        accepted,
        json!({"type": "receipt", "receipt": "r1", "status": "accepted", "sink": "hook", "event_id": event["id"]})
    );
    let done = json_of(next_message(&mut client).await);
    assert_eq!(
        (done["status"].as_str(), done["result"].clone()),
        (Some("done"), json!({"order": 42}))
    );

    // The next message is refused by the target: a `failed` receipt.
    send_text(&mut client, r#"{"n": 2, "receipt": "r2"}"#).await;
    let failed = json_of(next_message(&mut client).await);
    assert_eq!(
        (failed["receipt"].as_str(), failed["status"].as_str()),
        (Some("r2"), Some("failed"))
    );
    assert!(
        failed["error"].as_str().unwrap().contains("422"),
        "{failed}"
    );

    // Without a tag, nothing comes back.
    target.answer_with(Plan::Ok);
    send_numbered(&mut client, 3..4).await;
    target.wait_events(3).await;
    send_text(&mut client, r#"{"n": 4, "receipt": "r4"}"#).await;
    let next = json_of(next_message(&mut client).await);
    assert_eq!(
        next["receipt"], "r4",
        "no receipt for the untagged message came first: {next}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_backoff_max() {
    let target = HookTarget::start(0, vec![Plan::RetryAfter(1)], Plan::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let config = hook_config(&target.url(), dir.path(), "", "")
        .replace("backoff_max_ms = 400", "backoff_max_ms = 5000");
    let server = TestServer::start(&config).await;
    let mut client = server.connect("/ws").await;
    send_numbered(&mut client, 0..1).await;
    target.wait_events(2).await;
    let received = target.received();
    let gap = received[1].at - received[0].at;
    // The backoff alone would wait 25–50 ms.
    assert!(gap >= Duration::from_millis(1000), "{gap:?}");
    assert!(gap < Duration::from_millis(3000), "{gap:?}");
}
