//! Channels mode: subscribe, publish from clients and from the server API,
//! echo to the publisher, join/leave pushes, unsubscribe, and the default
//! options of channels without a namespace.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{api_publish, channels_toml, Centrifuge, PATH};
use common::TestServer;
use serde_json::{json, Value};

fn toml() -> String {
    channels_toml(
        r#"
[[channels.namespaces]]
name = "chat"
history_size = 100
history_ttl_ms = 60000
allow_publish = true

[[channels.namespaces]]
name = "quiet"
allow_publish = true
echo_to_publisher = false

[[channels.namespaces]]
name = "room"
allow_publish = true
join_leave = true
"#,
    )
}

async fn start() -> (TestServer, String) {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    (server, url)
}

#[tokio::test]
async fn client_and_api_publications_reach_every_subscriber_in_order() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    assert_ne!(a.client_id, b.client_id);
    assert_eq!(a.connect_result["pong"], true);
    assert!(a.connect_result["ping"].as_u64().unwrap_or(0) >= 1);

    let sub_a = a.subscribe("chat:a").await;
    let sub_b = b.subscribe("chat:a").await;
    let epoch = sub_a["epoch"]
        .as_str()
        .expect("history channel has an epoch");
    assert!(!epoch.is_empty());
    assert_eq!(sub_b["epoch"], epoch, "one stream, one epoch");
    assert!(
        sub_a.get("offset").is_none(),
        "nothing published yet: {sub_a}"
    );

    // Alternate client and API publications.
    a.publish("chat:a", json!({"n": 1})).await;
    let api2 = api_publish(&server, "chat:a", json!({"n": 2})).await;
    b.publish("chat:a", json!({"n": 3})).await;
    let api4 = api_publish(&server, "chat:a", json!({"n": 4})).await;
    assert_eq!(api2["offset"], 2, "{api2}");
    assert_eq!(api4["offset"], 4, "{api4}");
    assert_eq!(api2["epoch"], epoch);
    assert_eq!(api4["epoch"], epoch);

    let (a_id, b_id) = (a.client_id.clone(), b.client_id.clone());
    for (who, client) in [("a", &mut a), ("b", &mut b)] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(client.next_publication("chat:a").await);
        }
        let offsets: Vec<u64> = centrifuge::offsets(&seen);
        assert_eq!(offsets, vec![1, 2, 3, 4], "{who} sees consecutive offsets");
        let ns: Vec<&Value> = seen.iter().map(|p| &p["data"]["n"]).collect();
        assert_eq!(
            ns,
            vec![&json!(1), &json!(2), &json!(3), &json!(4)],
            "{who}"
        );
        // Client publications name their publisher; API ones have no publisher.
        assert_eq!(seen[0]["info"]["client"], a_id.as_str(), "{who}");
        assert_eq!(seen[2]["info"]["client"], b_id.as_str(), "{who}");
        assert!(seen[1].get("info").is_none(), "{}", seen[1]);
        assert!(seen[3].get("info").is_none(), "{}", seen[3]);
    }
    // The publishers as named in the publications.
    let history = a
        .call("history", json!({"channel": "chat:a", "limit": -1}))
        .await;
    let kept = centrifuge::publications(&history);
    assert_eq!(kept[0]["info"]["client"], a.client_id.as_str());
    assert_eq!(kept[0]["info"]["user"], "");
    assert_eq!(kept[2]["info"]["client"], b.client_id.as_str());
    assert_eq!(history["offset"], 4);
    assert_eq!(history["epoch"], epoch);
}

#[tokio::test]
async fn publications_without_history_have_no_offset() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let sub = a.subscribe("room:nohistory").await;
    assert!(sub.get("epoch").is_none(), "{sub}");
    assert!(sub.get("recoverable").is_none(), "{sub}");
    let result = api_publish(&server, "room:nohistory", json!("text")).await;
    assert_eq!(result, json!({}), "no history: no position");
    let publication = a.next_publication("room:nohistory").await;
    assert_eq!(publication, json!({"data": "text"}));
}

#[tokio::test]
async fn echo_to_publisher_false_skips_only_the_publisher() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    a.subscribe("quiet:x").await;
    b.subscribe("quiet:x").await;

    a.publish("quiet:x", json!({"from": "a"})).await;
    let got = b.next_publication("quiet:x").await;
    assert_eq!(got["data"], json!({"from": "a"}));
    assert_eq!(got["info"]["client"], a.client_id.as_str());

    // A marker from the API reaches both; the publisher's first publication
    // must be the marker, not its own message.
    api_publish(&server, "quiet:x", json!({"marker": 1})).await;
    assert_eq!(
        a.next_publication("quiet:x").await["data"],
        json!({"marker": 1})
    );
    assert_eq!(
        b.next_publication("quiet:x").await["data"],
        json!({"marker": 1})
    );

    // In a namespace with the default (echo on) the publisher gets its own.
    a.subscribe("room:echo").await;
    a.publish("room:echo", json!("mine")).await;
    let own = a.next_publication("room:echo").await;
    assert_eq!(own["data"], "mine");
    assert_eq!(own["info"]["client"], a.client_id.as_str());
}

#[tokio::test]
async fn join_and_leave_pushes_follow_the_namespace() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    a.subscribe("room:j").await;
    a.subscribe("quiet:j").await;

    let mut b = Centrifuge::connect(&url).await;
    b.subscribe("room:j").await;
    b.subscribe("quiet:j").await;

    // room (join_leave on): A is told B joined.
    let join = next_presence_push(&mut a, "room:j").await;
    assert_eq!(join["channel"], "room:j");
    assert_eq!(
        join["join"]["info"]["client"],
        b.client_id.as_str(),
        "{join}"
    );
    assert_eq!(join["join"]["info"]["user"], "");

    b.call("unsubscribe", json!({"channel": "room:j"})).await;
    let leave = next_presence_push(&mut a, "room:j").await;
    assert_eq!(
        leave["leave"]["info"]["client"],
        b.client_id.as_str(),
        "{leave}"
    );

    // A connection that goes away leaves as well.
    let mut c = Centrifuge::connect(&url).await;
    c.subscribe("room:j").await;
    let c_id = c.client_id.clone();
    let join = next_presence_push(&mut a, "room:j").await;
    assert_eq!(join["join"]["info"]["client"], c_id.as_str(), "{join}");
    drop(c);
    let leave = next_presence_push(&mut a, "room:j").await;
    assert_eq!(leave["leave"]["info"]["client"], c_id.as_str(), "{leave}");

    // quiet (join_leave off): B's subscribe and unsubscribe pushed nothing
    // to A: the first push on quiet:j is the marker published afterwards.
    b.call("unsubscribe", json!({"channel": "quiet:j"})).await;
    api_publish(&server, "quiet:j", json!("marker")).await;
    let first = a.next_push().await;
    assert_eq!(first["channel"], "quiet:j", "{first}");
    assert_eq!(
        first["pub"]["data"], "marker",
        "no join/leave expected: {first}"
    );
}

/// The next join or leave push in `channel` about someone other than the
/// client itself (whether a subscriber hears its own join is not asserted).
async fn next_presence_push(client: &mut Centrifuge, channel: &str) -> Value {
    let me = client.client_id.clone();
    loop {
        let push = client.next_push().await;
        assert_eq!(push["channel"], channel, "unexpected push {push}");
        let info = push
            .get("join")
            .or_else(|| push.get("leave"))
            .unwrap_or_else(|| panic!("expected join or leave, got {push}"));
        if info["info"]["client"] != me.as_str() {
            return push;
        }
    }
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    a.subscribe("chat:u").await;
    a.subscribe("chat:v").await;
    api_publish(&server, "chat:u", json!("before")).await;
    assert_eq!(a.next_publication("chat:u").await["data"], "before");

    let reply = a.command("unsubscribe", json!({"channel": "chat:u"})).await;
    assert_eq!(reply["unsubscribe"], json!({}), "{reply}");
    api_publish(&server, "chat:u", json!("after")).await;
    api_publish(&server, "chat:v", json!("marker")).await;
    let push = a.next_push().await;
    assert_eq!(
        push["channel"], "chat:v",
        "nothing from chat:u after unsubscribe: {push}"
    );
    assert_eq!(push["pub"]["data"], "marker");

    // The channel has no subscriber left on this node.
    let (_, channels) = server.api("channels", json!({})).await;
    assert!(
        channels["result"]["channels"].get("chat:u").is_none(),
        "{channels}"
    );
    // And subscribing again works (the session forgot the old subscription).
    a.subscribe("chat:u").await;
}

#[tokio::test]
async fn default_namespace_refuses_client_publish() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let sub = a.subscribe("news").await;
    assert!(sub.get("recoverable").is_none(), "{sub}");

    let reply = a
        .command("publish", json!({"channel": "news", "data": {"x": 1}}))
        .await;
    assert_eq!(reply["error"]["code"], 103, "{reply}");

    // The server API always may publish, and the subscriber receives it
    // (and nothing from the refused client publish before it).
    api_publish(&server, "news", json!({"from": "api"})).await;
    let push = a.next_push().await;
    assert_eq!(push["channel"], "news");
    assert_eq!(push["pub"]["data"], json!({"from": "api"}), "{push}");
}

#[tokio::test]
async fn commands_in_one_frame_are_answered_in_order() {
    let (_server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    // subscribe, publish and history in one frame: the publication follows
    // the subscribe reply, and history already holds it.
    let (sub, l1) = a.command_line("subscribe", json!({"channel": "chat:f"}));
    let (publ, l2) = a.command_line("publish", json!({"channel": "chat:f", "data": {"k": "v"}}));
    let (hist, l3) = a.command_line("history", json!({"channel": "chat:f", "limit": -1}));
    a.send_text(&format!("{l1}\n{l2}\n{l3}")).await;
    let sub_reply = a.reply(sub).await;
    assert!(sub_reply.get("subscribe").is_some(), "{sub_reply}");
    assert_eq!(a.reply(publ).await["publish"], json!({}));
    let history = a.reply(hist).await;
    assert_eq!(
        centrifuge::offsets(&centrifuge::publications(&history["history"])),
        vec![1],
        "{history}"
    );
    let publication = a.next_publication("chat:f").await;
    assert_eq!(publication["data"], json!({"k": "v"}));
    assert_eq!(publication["offset"], 1);
}

#[tokio::test]
async fn payloads_reach_subscribers_unchanged() {
    let (server, url) = start().await;
    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    b.subscribe("chat:data").await;
    let payloads = [
        json!(null),
        json!(0),
        json!(-1.5),
        json!("line\nbreak \"quoted\" \u{1F600} ü"),
        json!([1, [2, [3]], {"a": null}]),
        json!({"nested": {"deep": [true, false]}, "empty": {}}),
    ];
    for data in &payloads {
        a.publish("chat:data", data.clone()).await;
        api_publish(&server, "chat:data", data.clone()).await;
    }
    for data in &payloads {
        assert_eq!(
            &b.next_publication("chat:data").await["data"],
            data,
            "client publish"
        );
        assert_eq!(
            &b.next_publication("chat:data").await["data"],
            data,
            "API publish"
        );
    }
}
