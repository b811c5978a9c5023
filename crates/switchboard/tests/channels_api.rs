//! The server API's channel methods against a channels endpoint: broadcast,
//! history (limit, reverse, since), history_remove, channels, batch, info
//! and disconnect.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{channels_toml, eventually, offsets, publications, Centrifuge, PATH};
use common::TestServer;
use serde_json::{json, Value};

fn toml() -> String {
    channels_toml(
        r#"
[[channels.namespaces]]
name = "chat"
history_size = 100
history_ttl_ms = 600000
recovery = true
allow_publish = true
"#,
    )
}

async fn start() -> (TestServer, String) {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    (server, url)
}

/// A method that must succeed: its `result`.
async fn result(server: &TestServer, method: &str, params: Value) -> Value {
    let (status, body) = server.api(method, params).await;
    assert_eq!(status, 200, "{method}: {body}");
    body.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{method} failed: {body}"))
}

/// A method that must fail at method level: its error code.
async fn error_code(server: &TestServer, method: &str, params: Value) -> u64 {
    let (status, body) = server.api(method, params).await;
    assert_eq!(status, 200, "method-level errors are 200: {body}");
    body["error"]["code"]
        .as_u64()
        .unwrap_or_else(|| panic!("{method} should fail: {body}"))
}

#[tokio::test]
async fn broadcast_answers_per_channel() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    a.subscribe("chat:b1").await;
    a.subscribe("news").await;
    result(&server, "publish", json!({"channel": "chat:b1", "data": 0})).await;

    let out = result(
        &server,
        "broadcast",
        json!({"channels": ["chat:b1", "nope:x", "news", "chat:b2"], "data": {"all": true}}),
    )
    .await;
    let responses = out["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 4, "{out}");
    assert_eq!(responses[0]["result"]["offset"], 2, "{out}");
    let epoch = responses[0]["result"]["epoch"].as_str().expect("epoch");
    assert!(!epoch.is_empty());
    assert_eq!(responses[1]["error"]["code"], 102, "{out}");
    assert!(responses[1].get("result").is_none());
    assert_eq!(
        responses[2],
        json!({"result": {}}),
        "no history, no position"
    );
    assert_eq!(responses[3]["result"]["offset"], 1, "{out}");
    assert_ne!(
        responses[3]["result"]["epoch"], epoch,
        "each channel its own stream"
    );

    // The subscriber got it in both its channels, in broadcast order.
    let first = a.next_publication("chat:b1").await;
    assert_eq!(first["offset"], 1);
    let push = a.next_push().await;
    assert_eq!(push["channel"], "chat:b1");
    assert_eq!(push["pub"]["data"], json!({"all": true}));
    assert_eq!(push["pub"]["offset"], 2);
    let push = a.next_push().await;
    assert_eq!(push["channel"], "news");
    assert_eq!(push["pub"], json!({"data": {"all": true}}));

    // Without channels or data it is the caller's mistake.
    assert_eq!(
        error_code(&server, "broadcast", json!({"channels": [], "data": 1})).await,
        107
    );
    assert_eq!(
        error_code(&server, "broadcast", json!({"channels": ["news"]})).await,
        107
    );
}

#[tokio::test]
async fn history_reads_with_limit_reverse_and_since() {
    let (server, url) = start().await;
    let channel = "chat:h";
    let mut epoch = String::new();
    for n in 1..=5 {
        let published = result(
            &server,
            "publish",
            json!({"channel": channel, "data": {"n": n}}),
        )
        .await;
        assert_eq!(published["offset"], n);
        epoch = published["epoch"].as_str().expect("epoch").to_owned();
    }
    let history = |params: Value| {
        let mut params = params;
        params["channel"] = json!(channel);
        result(&server, "history", params)
    };
    let ns = |page: &Value| offsets(&publications(page));

    // Absent or 0: the position only.
    let top = history(json!({})).await;
    assert_eq!(top["offset"], 5);
    assert_eq!(top["epoch"], epoch.as_str());
    assert!(ns(&top).is_empty(), "{top}");
    assert!(ns(&history(json!({"limit": 0})).await).is_empty());

    assert_eq!(ns(&history(json!({"limit": 2})).await), vec![1, 2]);
    assert_eq!(
        ns(&history(json!({"limit": -1})).await),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        ns(&history(json!({"limit": 100})).await),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        ns(&history(json!({"limit": 2, "reverse": true})).await),
        vec![5, 4]
    );
    let since = |offset: u64| json!({"offset": offset, "epoch": epoch.clone()});
    assert_eq!(
        ns(&history(json!({"limit": -1, "since": since(2)})).await),
        vec![3, 4, 5]
    );
    assert_eq!(
        ns(&history(json!({"limit": 1, "since": since(2)})).await),
        vec![3]
    );
    assert_eq!(
        ns(&history(json!({"limit": -1, "since": since(4), "reverse": true})).await),
        vec![3, 2, 1]
    );
    assert!(ns(&history(json!({"limit": -1, "since": since(5)})).await).is_empty());
    let page = history(json!({"limit": 1})).await;
    assert_eq!(publications(&page)[0]["data"], json!({"n": 1}));

    // Errors: another epoch, an unknown namespace, a channel without history.
    let wrong = json!({"channel": channel, "limit": -1, "since": {"offset": 1, "epoch": "nope"}});
    assert_eq!(error_code(&server, "history", wrong).await, 112);
    assert_eq!(
        error_code(&server, "history", json!({"channel": "nope:x"})).await,
        102
    );
    assert_eq!(
        error_code(&server, "history", json!({"channel": "news"})).await,
        108
    );

    // A client reading the same history sees the same page.
    let mut c = Centrifuge::connect(&url).await;
    let from_client = c
        .call(
            "history",
            json!({"channel": channel, "limit": -1, "since": since(1)}),
        )
        .await;
    let from_api = history(json!({"limit": -1, "since": since(1)})).await;
    assert_eq!(from_client, from_api);
}

#[tokio::test]
async fn history_remove_keeps_the_position() {
    let (server, url) = start().await;
    let channel = "chat:rm";
    let mut epoch = Value::Null;
    for n in 1..=3 {
        epoch = result(&server, "publish", json!({"channel": channel, "data": n})).await["epoch"]
            .clone();
    }
    assert_eq!(
        result(&server, "history_remove", json!({"channel": channel})).await,
        json!({})
    );
    let page = result(&server, "history", json!({"channel": channel, "limit": -1})).await;
    assert!(publications(&page).is_empty(), "{page}");
    assert_eq!(page["offset"], 3, "offsets carry on");
    assert_eq!(page["epoch"], epoch);

    // Recovery across the removal is refused (2 and 3 are gone), and the
    // position offered to resync from is the kept top.
    let mut c = Centrifuge::connect(&url).await;
    let reply = c
        .call(
            "subscribe",
            json!({"channel": channel, "recover": true, "offset": 1, "epoch": epoch}),
        )
        .await;
    assert!(reply.get("recovered").is_none(), "{reply}");
    assert_eq!(reply["offset"], 3);

    let next = result(&server, "publish", json!({"channel": channel, "data": 4})).await;
    assert_eq!(next["offset"], 4);
    assert_eq!(next["epoch"], epoch);
    let page = result(&server, "history", json!({"channel": channel, "limit": -1})).await;
    assert_eq!(offsets(&publications(&page)), vec![4]);
    assert_eq!(c.next_publication(channel).await["offset"], 4);

    assert_eq!(
        error_code(&server, "history_remove", json!({"channel": "nope:x"})).await,
        102
    );
}

#[tokio::test]
async fn channels_lists_active_channels_by_pattern() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    a.subscribe("chat:one").await;
    a.subscribe("chat:two").await;
    b.subscribe("chat:one").await;
    b.subscribe("news").await;

    let all = result(&server, "channels", json!({})).await;
    assert_eq!(
        all,
        json!({"channels": {
            "chat:one": {"num_clients": 2},
            "chat:two": {"num_clients": 1},
            "news": {"num_clients": 1},
        }})
    );
    let chat = result(&server, "channels", json!({"pattern": "chat:*"})).await;
    assert_eq!(
        chat,
        json!({"channels": {"chat:one": {"num_clients": 2}, "chat:two": {"num_clients": 1}}})
    );
    let one = result(&server, "channels", json!({"pattern": "*:o?e"})).await;
    assert_eq!(one, json!({"channels": {"chat:one": {"num_clients": 2}}}));
    let none = result(&server, "channels", json!({"pattern": "nope*"})).await;
    assert_eq!(none, json!({"channels": {}}));

    // A closed connection's channels go once the server notices.
    drop(b);
    eventually("news without subscribers disappears", || async {
        let now = result(&server, "channels", json!({})).await;
        now["channels"].get("news").is_none()
    })
    .await;
    let now = result(&server, "channels", json!({})).await;
    assert_eq!(
        now,
        json!({"channels": {"chat:one": {"num_clients": 1}, "chat:two": {"num_clients": 1}}})
    );
}

#[tokio::test]
async fn batch_runs_every_command_in_order_past_a_failure() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    a.subscribe("chat:batch").await;
    let (status, body) = server
        .api(
            "batch",
            json!({"commands": [
                {"publish": {"channel": "chat:batch", "data": "first"}},
                {"publish": {"channel": "nope:x", "data": "lost"}},
                {"publish": {"channel": "chat:batch", "data": "third"}},
                {"history": {"channel": "chat:batch", "limit": -1}},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("result").is_none(), "batch is not wrapped: {body}");
    let replies = body["replies"].as_array().expect("replies");
    assert_eq!(replies.len(), 4, "{body}");
    assert_eq!(replies[0]["publish"]["offset"], 1, "{body}");
    assert_eq!(replies[1]["error"]["code"], 102, "{body}");
    assert_eq!(replies[2]["publish"]["offset"], 2, "{body}");
    let kept = publications(&replies[3]["history"]);
    assert_eq!(offsets(&kept), vec![1, 2], "{body}");
    assert_eq!(kept[1]["data"], "third");

    assert_eq!(a.next_publication("chat:batch").await["data"], "first");
    assert_eq!(a.next_publication("chat:batch").await["data"], "third");
}

#[tokio::test]
async fn presence_methods_refuse_channels_without_presence() {
    let (server, _url) = start().await;
    for method in ["presence", "presence_stats"] {
        assert_eq!(
            error_code(&server, method, json!({"channel": "nope:x"})).await,
            102,
            "{method}"
        );
        assert_eq!(
            error_code(&server, method, json!({"channel": "chat:x"})).await,
            108,
            "{method}: chat keeps no presence"
        );
    }
}

#[tokio::test]
async fn info_counts_channels_and_subscriptions() {
    let (server, url) = start().await;
    let node = |info: &Value| info["nodes"][0].clone();
    let before = node(&result(&server, "info", json!({})).await);
    assert_eq!(before["num_channels"], 0);
    assert_eq!(before["num_subs"], 0);

    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    a.subscribe("chat:1").await;
    a.subscribe("chat:2").await;
    b.subscribe("chat:1").await;
    b.subscribe("news").await;
    let info = node(&result(&server, "info", json!({})).await);
    assert_eq!(info["num_channels"], 3, "{info}");
    assert_eq!(info["num_subs"], 4, "{info}");
    assert_eq!(info["num_clients"], 2, "{info}");

    b.call("unsubscribe", json!({"channel": "news"})).await;
    let info = node(&result(&server, "info", json!({})).await);
    assert_eq!(info["num_channels"], 2, "{info}");
    assert_eq!(info["num_subs"], 3, "{info}");
}

#[tokio::test]
async fn disconnect_closes_a_channels_client_with_the_given_code() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    a.subscribe("chat:d").await;
    let out = result(
        &server,
        "disconnect",
        json!({"client": a.client_id, "disconnect": {"code": 3011, "reason": "x"}}),
    )
    .await;
    assert_eq!(out["disconnected"], 1, "{out}");
    assert_eq!(a.expect_close().await, (3011, "x".into()));
    eventually("the subscription is gone", || async {
        let now = result(&server, "channels", json!({})).await;
        now["channels"].get("chat:d").is_none()
    })
    .await;
}
