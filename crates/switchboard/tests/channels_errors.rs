//! Channels mode: every reply error and disconnect code the endpoint uses,
//! the per-connection and per-channel limits, and the protocol ping.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use std::time::{Duration, Instant};

use centrifuge::{channels_toml, Centrifuge, PATH};
use common::TestServer;
use serde_json::json;
use switchboard::protocol::event::EventType;

fn toml() -> String {
    channels_toml(
        r#"
[channels]
max_channels_per_connection = 2
channel_max_length = 32

[[channels.namespaces]]
name = "chat"
history_size = 10
history_ttl_ms = 60000
recovery = true
presence = true
allow_publish = true

[[channels.namespaces]]
name = "ro"
allow_subscribe = false

[[channels.namespaces]]
name = "solo"
max_subscribers = 1

[[channels.namespaces]]
name = "secret"
history_size = 10
history_ttl_ms = 60000
presence = true
allow_history = false
allow_presence = false
"#,
    )
}

async fn start() -> (TestServer, String) {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    (server, url)
}

#[tokio::test]
async fn protocol_violations_disconnect_with_centrifugo_codes() {
    let (_server, url) = start().await;

    // The first command must be connect.
    let mut c = Centrifuge::open(&url).await;
    c.send_text(r#"{"id":1,"subscribe":{"channel":"chat:a"}}"#)
        .await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // Not JSON.
    let mut c = Centrifuge::connect(&url).await;
    c.send_text("{not json").await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // Not JSON as the very first frame.
    let mut c = Centrifuge::open(&url).await;
    c.send_text("hello").await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // Two methods in one command.
    let mut c = Centrifuge::connect(&url).await;
    c.send_text(r#"{"id":2,"presence":{"channel":"chat:a"},"history":{"channel":"chat:a"}}"#)
        .await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // An id without a method.
    let mut c = Centrifuge::connect(&url).await;
    c.send_text(r#"{"id":7}"#).await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // Connect twice.
    let mut c = Centrifuge::connect(&url).await;
    c.send_text(r#"{"id":9,"connect":{}}"#).await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    // Binary frames (the Protobuf encoding) are not spoken here.
    let mut c = Centrifuge::connect(&url).await;
    c.send_binary(&[0x0a, 0x02, 0x08, 0x01]).await;
    assert_eq!(
        c.expect_close().await,
        (3506, "inappropriate protocol".into())
    );

    // A bad command after good ones in the same frame: the good ones are
    // answered first, then the connection is closed.
    let mut c = Centrifuge::connect(&url).await;
    c.send_text("{\"id\":20,\"presence_stats\":{\"channel\":\"chat:a\"}}\n[1,2]")
        .await;
    let reply = c.reply(20).await;
    assert_eq!(reply["presence_stats"]["num_clients"], 0, "{reply}");
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));
}

#[tokio::test]
async fn refused_connects_are_101_and_leave_the_client_unconnected() {
    let (_server, url) = start().await;
    let mut c = Centrifuge::open(&url).await;
    let code = c
        .error_code("connect", json!({"token": "abc.def.ghi"}))
        .await;
    assert_eq!(code, 101);
    // Not connected: any other command ends the connection.
    c.send_text(r#"{"id":5,"subscribe":{"channel":"chat:a"}}"#)
        .await;
    assert_eq!(c.expect_close().await, (3501, "bad request".into()));

    let closed = TestServer::start(&channels_toml("[channels]\nallow_anonymous = false\n")).await;
    let mut c = Centrifuge::open(&closed.ws_url(PATH)).await;
    assert_eq!(c.error_code("connect", json!({})).await, 101);
}

#[tokio::test]
async fn channel_commands_answer_errors() {
    let (mut server, url) = start().await;
    let mut c = Centrifuge::connect(&url).await;

    // 102: a namespace that is not configured.
    assert_eq!(
        c.error_code("subscribe", json!({"channel": "nope:x"}))
            .await,
        102
    );
    assert_eq!(
        c.error_code("publish", json!({"channel": "nope:x", "data": 1}))
            .await,
        102
    );
    assert_eq!(
        c.error_code("history", json!({"channel": "nope:x"})).await,
        102
    );

    // 103: the default options let clients subscribe but not publish; ro
    // does not let them subscribe.
    assert_eq!(
        c.error_code("publish", json!({"channel": "plain", "data": {}}))
            .await,
        103
    );
    assert_eq!(
        c.error_code("subscribe", json!({"channel": "ro:x"})).await,
        103
    );

    // 107: empty, too long (channel_max_length = 32), whitespace, control.
    for bad in [
        String::new(),
        format!("chat:{}", "x".repeat(28)),
        "chat:a b".into(),
        "chat:a\tb".into(),
        "chat:\u{1}".into(),
    ] {
        assert_eq!(
            c.error_code("subscribe", json!({ "channel": bad })).await,
            107,
            "{bad:?}"
        );
        assert_eq!(
            c.error_code("publish", json!({ "channel": bad, "data": 1 }))
                .await,
            107,
            "{bad:?}"
        );
    }
    // 32 bytes exactly is fine.
    let longest = format!("chat:{}", "x".repeat(27));
    assert_eq!(longest.len(), 32);
    c.subscribe(&longest).await;

    // 103 as well: history and presence kept but not readable by clients.
    for method in ["history", "presence", "presence_stats"] {
        assert_eq!(
            c.error_code(method, json!({"channel": "secret:x"})).await,
            103,
            "{method}"
        );
    }

    // 105: the same channel twice.
    assert_eq!(
        c.error_code("subscribe", json!({ "channel": longest }))
            .await,
        105
    );

    // 108: no history, no presence in the default options; rpc has no backend.
    assert_eq!(
        c.error_code("history", json!({"channel": "plain", "limit": 10}))
            .await,
        108
    );
    assert_eq!(
        c.error_code("presence", json!({"channel": "plain"})).await,
        108
    );
    assert_eq!(
        c.error_code("presence_stats", json!({"channel": "plain"}))
            .await,
        108
    );
    assert_eq!(
        c.error_code("rpc", json!({"method": "sum", "data": {"a": 1}}))
            .await,
        108
    );
    let rpc = server.next_event(EventType::Rpc).await;
    assert_eq!(rpc.method.as_deref(), Some("sum"));
    assert_eq!(rpc.message, Some(json!({"a": 1})));
    assert_eq!(rpc.connection.id, c.client_id);

    // send: no reply, a message event.
    c.send_text(r#"{"send":{"data":{"hello":"backend"}}}"#)
        .await;
    let message = server.next_event(EventType::Message).await;
    assert_eq!(message.message, Some(json!({"hello": "backend"})));
    assert_eq!(message.connection.id, c.client_id);

    // 112: history since a position of another epoch.
    c.publish("chat:h", json!(1)).await;
    let history = c
        .call("history", json!({"channel": "chat:h", "limit": 0}))
        .await;
    let epoch = history["epoch"].as_str().expect("epoch").to_owned();
    assert_eq!(history["offset"], 1);
    let since = |epoch: &str| json!({"channel": "chat:h", "limit": -1, "since": {"offset": 0, "epoch": epoch}});
    assert_eq!(c.error_code("history", since("other")).await, 112);
    let ok = c.call("history", since(&epoch)).await;
    assert_eq!(ok["publications"][0]["data"], 1, "{ok}");

    // The connection survived every error.
    let reply = c.command("ping", json!({})).await;
    assert_eq!(reply["ping"], json!({}), "{reply}");
}

#[tokio::test]
async fn channel_limits_are_106() {
    let (_server, url) = start().await;

    // max_channels_per_connection = 2.
    let mut c = Centrifuge::connect(&url).await;
    c.subscribe("chat:1").await;
    c.subscribe("chat:2").await;
    assert_eq!(
        c.error_code("subscribe", json!({"channel": "chat:3"}))
            .await,
        106
    );
    c.call("unsubscribe", json!({"channel": "chat:1"})).await;
    c.subscribe("chat:3").await;

    // max_subscribers = 1 in namespace solo.
    let mut first = Centrifuge::connect(&url).await;
    let mut second = Centrifuge::connect(&url).await;
    first.subscribe("solo:x").await;
    assert_eq!(
        second
            .error_code("subscribe", json!({"channel": "solo:x"}))
            .await,
        106
    );
    // Another channel of the namespace has its own limit.
    second.subscribe("solo:y").await;
    // The refused subscribe left nothing behind: once the place is free it works.
    first
        .call("unsubscribe", json!({"channel": "solo:x"}))
        .await;
    second.subscribe("solo:x").await;
    assert_eq!(
        first
            .error_code("subscribe", json!({"channel": "solo:x"}))
            .await,
        106
    );
}

#[tokio::test]
async fn clients_that_do_not_answer_pings_are_closed_with_3012() {
    let server = TestServer::start(&channels_toml(
        "[channels]\nping_interval_ms = 1000\npong_timeout_ms = 300\n",
    ))
    .await;
    let url = server.ws_url(PATH);
    let mut silent = Centrifuge::connect(&url).await;
    silent.answer_pings = false;
    let mut polite = Centrifuge::connect(&url).await;
    assert_eq!(
        silent.connect_result["ping"], 1,
        "{}",
        silent.connect_result
    );

    let polite_task = tokio::spawn(async move {
        // Past two full ping rounds (and their pong deadlines) and into a third.
        polite.wait_pings(3).await;
        let reply = polite.command("ping", json!({})).await;
        assert_eq!(reply["ping"], json!({}), "still connected: {reply}");
        polite
    });

    let connected = Instant::now();
    silent.wait_pings(1).await;
    let pinged = Instant::now();
    let since_connect = pinged - connected;
    assert!(
        since_connect >= Duration::from_millis(800),
        "first ping after about ping_interval_ms, got {since_connect:?}"
    );
    let close = silent.expect_close().await;
    let waited = pinged.elapsed();
    assert_eq!(close, (3012, "no pong".into()));
    assert!(
        waited >= Duration::from_millis(250) && waited <= Duration::from_millis(1500),
        "closed {waited:?} after the unanswered ping (pong_timeout_ms = 300)"
    );
    assert_eq!(silent.pings, 1, "closed before a second ping");

    let mut polite = polite_task.await.expect("polite client");
    assert!(polite.pings >= 3);
    // And it keeps working.
    polite.subscribe("news").await;
}
