//! Channels mode: presence and presence stats, from clients and from the
//! server API, as connections come and go.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{channels_toml, eventually, Centrifuge, PATH};
use common::TestServer;
use serde_json::{json, Value};

fn toml() -> String {
    channels_toml(
        r#"
[[channels.namespaces]]
name = "room"
presence = true
"#,
    )
}

async fn api_result(server: &TestServer, method: &str, params: Value) -> Value {
    let (status, body) = server.api(method, params).await;
    assert_eq!(status, 200, "{body}");
    body.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("{method} failed: {body}"))
}

fn ids(presence: &Value) -> Vec<String> {
    let mut ids: Vec<String> = presence["presence"]
        .as_object()
        .unwrap_or_else(|| panic!("no presence map: {presence}"))
        .keys()
        .cloned()
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn presence_follows_subscribers_for_clients_and_the_api() {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    let channel = "room:lobby";
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Centrifuge::connect(&url).await;
        client.subscribe(channel).await;
        clients.push(client);
    }
    let mut all: Vec<String> = clients.iter().map(|c| c.client_id.clone()).collect();
    all.sort();

    // Any subscriber sees all three, each with its info.
    let presence = clients[0]
        .call("presence", json!({ "channel": channel }))
        .await;
    assert_eq!(ids(&presence), all, "{presence}");
    for id in &all {
        assert_eq!(
            presence["presence"][id],
            json!({"user": "", "client": id}),
            "{presence}"
        );
    }
    let stats = clients[2]
        .call("presence_stats", json!({ "channel": channel }))
        .await;
    assert_eq!(
        stats,
        json!({"num_clients": 3, "num_users": 1}),
        "anonymous: one user \"\""
    );

    // The API says the same.
    let api_presence = api_result(&server, "presence", json!({ "channel": channel })).await;
    assert_eq!(api_presence, presence, "API and client presence agree");
    let api_stats = api_result(&server, "presence_stats", json!({ "channel": channel })).await;
    assert_eq!(api_stats, stats);

    // One connection goes away (no close frame): it is removed once the
    // server notices the socket closed, which no frame announces.
    let gone = clients.pop().expect("three clients");
    let gone_id = gone.client_id.clone();
    drop(gone);
    eventually("presence without the closed connection", || async {
        let now = api_result(&server, "presence", json!({ "channel": channel })).await;
        ids(&now).len() == 2
    })
    .await;
    let remaining: Vec<String> = all.iter().filter(|id| **id != gone_id).cloned().collect();
    let api_presence = api_result(&server, "presence", json!({ "channel": channel })).await;
    assert_eq!(ids(&api_presence), remaining);
    let presence = clients[1]
        .call("presence", json!({ "channel": channel }))
        .await;
    assert_eq!(presence, api_presence);
    let stats = clients[0]
        .call("presence_stats", json!({ "channel": channel }))
        .await;
    assert_eq!(stats, json!({"num_clients": 2, "num_users": 1}));

    // Unsubscribing removes presence at once (before the reply).
    let leaving = clients[1].client_id.clone();
    clients[1]
        .call("unsubscribe", json!({ "channel": channel }))
        .await;
    let api_presence = api_result(&server, "presence", json!({ "channel": channel })).await;
    assert_eq!(ids(&api_presence), vec![clients[0].client_id.clone()]);
    assert!(api_presence["presence"].get(&leaving).is_none());

    // A connection that is not subscribed may read presence but is not in it.
    let mut outsider = Centrifuge::connect(&url).await;
    let presence = outsider
        .call("presence", json!({ "channel": channel }))
        .await;
    assert_eq!(ids(&presence), vec![clients[0].client_id.clone()]);

    // Once the last one leaves, the channel is empty.
    clients[0]
        .call("unsubscribe", json!({ "channel": channel }))
        .await;
    let stats = api_result(&server, "presence_stats", json!({ "channel": channel })).await;
    assert_eq!(stats, json!({"num_clients": 0, "num_users": 0}));
    let presence = api_result(&server, "presence", json!({ "channel": channel })).await;
    assert_eq!(presence, json!({"presence": {}}));
}

#[tokio::test]
async fn presence_is_per_channel() {
    let server = TestServer::start(&toml()).await;
    let url = server.ws_url(PATH);
    let mut a = Centrifuge::connect(&url).await;
    let mut b = Centrifuge::connect(&url).await;
    a.subscribe("room:1").await;
    b.subscribe("room:2").await;
    b.subscribe("room:1").await;
    let one = api_result(&server, "presence_stats", json!({"channel": "room:1"})).await;
    let two = api_result(&server, "presence_stats", json!({"channel": "room:2"})).await;
    assert_eq!(one["num_clients"], 2);
    assert_eq!(two["num_clients"], 1);
    let two = a.call("presence", json!({"channel": "room:2"})).await;
    assert_eq!(ids(&two), vec![b.client_id.clone()]);
}
