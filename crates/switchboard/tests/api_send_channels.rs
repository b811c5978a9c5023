//! The server API's `send` to a `channels` connection arrives as the
//! protocol's `message` push, which the Centrifugo SDKs surface as a
//! `message` event; binary, which has no JSON form, skips such connections.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const CONFIG: &str = "[[endpoints]]\npath = \"/c\"\nmode = \"channels\"\n";

async fn connected(t: &TestServer) -> (Client, String) {
    let mut client = t.connect("/c").await;
    client
        .send(Message::text(r#"{"id":1,"connect":{}}"#))
        .await
        .unwrap();
    let reply: Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    let id = reply["connect"]["client"].as_str().unwrap().to_owned();
    (client, id)
}

#[tokio::test]
async fn data_and_text_arrive_as_message_pushes() {
    let t = TestServer::start(CONFIG).await;
    let (mut client, id) = connected(&t).await;

    let (status, body) = t
        .api("send", json!({"connection": id, "data": {"n": 1}}))
        .await;
    assert_eq!(
        (status, &body["result"]["delivered"]),
        (200, &json!(1)),
        "{body}"
    );
    let push: Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    assert_eq!(push, json!({"push": {"message": {"data": {"n": 1}}}}));

    let (_, body) = t.api("send", json!({"connection": id, "text": "hi"})).await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    let push: Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    assert_eq!(push, json!({"push": {"message": {"data": "hi"}}}));

    let (_, body) = t
        .api("send", json!({"connection": id, "binary": "AAE="}))
        .await;
    assert_eq!(
        body["result"]["delivered"], 0,
        "binary cannot reach a channels client: {body}"
    );
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn a_channels_client_that_never_reads_is_closed_with_3008_slow() {
    let config =
        "[[endpoints]]\npath = \"/c\"\nmode = \"channels\"\noutbound_queue_bytes = 262144\n";
    let t = TestServer::start(config).await;
    let (client, id) = connected(&t).await;
    let chunk = "x".repeat(64 * 1024);
    let mut refused = false;
    // 2000 × 64 KiB is far beyond any socket buffer: the queue must push back first.
    for _ in 0..2000 {
        let (_, body) = t
            .api("send", json!({"connection": id, "text": chunk}))
            .await;
        if body["result"]["dropped"].as_u64() > Some(0) {
            refused = true;
            break;
        }
    }
    assert!(refused, "the outbound queue never filled");
    let (code, reason) = close_handshake(client).await;
    assert_eq!((code, reason.as_str()), (3008, "slow"));
    t.server.shutdown().await;
}
