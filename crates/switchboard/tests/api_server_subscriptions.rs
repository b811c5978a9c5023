//! The server API's `subscribe` and `unsubscribe` (Centrifugo's shapes):
//! a user's channels connections join or leave a channel on the server's
//! initiative and are told with `subscribe` / `unsubscribe` pushes.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use centrifuge::{channels_toml, connect_as, TOKEN_SECRET};
use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn server_side_subscribe_and_unsubscribe() {
    let toml = channels_toml(&format!(
        "[channels]\ntoken_hmac_secret = \"{TOKEN_SECRET}\"\n[[channels.namespaces]]\nname = \"news\"\nhistory_size = 10\nhistory_ttl_ms = 60000\nrecovery = true\n"
    ));
    let t = TestServer::start(&toml).await;
    let mut tab1 = connect_as(&t, "dana").await;
    let mut tab2 = connect_as(&t, "dana").await;
    let mut other = connect_as(&t, "erin").await;

    let (_, body) = t
        .api(
            "subscribe",
            json!({ "user": "dana", "channel": "news:today" }),
        )
        .await;
    assert_eq!(body["result"]["connections"], 2, "{body}");
    for tab in [&mut tab1, &mut tab2] {
        let push = tab.next_push().await;
        assert_eq!(push["channel"], "news:today", "{push}");
        assert_eq!(push["subscribe"]["recoverable"], true, "{push}");
    }
    // Subscribing again changes nothing.
    let (_, body) = t
        .api(
            "subscribe",
            json!({ "user": "dana", "channel": "news:today" }),
        )
        .await;
    assert_eq!(body["result"]["connections"], 0, "{body}");

    t.api(
        "publish",
        json!({ "channel": "news:today", "data": "first" }),
    )
    .await;
    assert_eq!(tab1.next_publication("news:today").await["data"], "first");
    assert_eq!(tab2.next_publication("news:today").await["data"], "first");

    // Only tab2 leaves.
    let (_, body) = t
        .api(
            "unsubscribe",
            json!({ "user": "dana", "channel": "news:today", "client": tab2.client_id }),
        )
        .await;
    assert_eq!(body["result"]["connections"], 1, "{body}");
    let push = tab2.next_push().await;
    assert_eq!(
        push["unsubscribe"],
        json!({ "code": 2000, "reason": "server unsubscribe" }),
        "{push}"
    );
    t.api(
        "publish",
        json!({ "channel": "news:today", "data": "second" }),
    )
    .await;
    assert_eq!(tab1.next_publication("news:today").await["data"], "second");
    // tab2 got nothing more: its next push is a marker sent to it alone.
    t.api(
        "send",
        json!({ "connection": tab2.client_id, "data": "marker" }),
    )
    .await;
    assert_eq!(tab2.next_push().await["message"]["data"], "marker");

    // The other user was never touched, and an unknown namespace is 102.
    t.api(
        "send",
        json!({ "connection": other.client_id, "data": "marker" }),
    )
    .await;
    assert_eq!(other.next_push().await["message"]["data"], "marker");
    let (_, body) = t
        .api("subscribe", json!({ "user": "dana", "channel": "nope:x" }))
        .await;
    assert_eq!(body["error"]["code"], 102, "{body}");
    let (_, body) = t.api("subscribe", json!({ "channel": "news:today" })).await;
    assert_eq!(
        body["error"]["code"], 107,
        "anonymous needs a client id: {body}"
    );
    drop((tab1, tab2, other));
    t.server.shutdown().await;
}
