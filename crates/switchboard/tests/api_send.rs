//! The `send` API method: every target, every payload kind, the envelope
//! format, exclusions, and parameter errors.

mod common;

use common::*;
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::Message;

const ENDPOINTS: &str = r#"
[[endpoints]]
path = "/a"
[[endpoints]]
path = "/b"
[[endpoints]]
path = "/env"
format = "envelope"
"#;

async fn join(t: &mut TestServer, path: &str) -> (Client, String) {
    let client = t.connect(path).await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    (client, id)
}

async fn send_ok(t: &TestServer, request: Value) -> (u64, u64) {
    let (status, body) = t.api("send", request.clone()).await;
    assert_eq!(status, 200, "{request}: {body}");
    let result = &body["result"];
    assert!(result.is_object(), "{request}: {body}");
    (
        result["delivered"].as_u64().unwrap(),
        result["dropped"].as_u64().unwrap(),
    )
}

async fn next_text(client: &mut Client) -> String {
    match next_message(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Proves a client got nothing before: the next message it receives is a
/// marker sent to it afterwards.
async fn assert_nothing_before_marker(t: &TestServer, client: &mut Client, id: &str) {
    let (delivered, _) = send_ok(t, json!({"connection": id, "text": "marker"})).await;
    assert_eq!(delivered, 1);
    assert_eq!(next_text(client).await, "marker");
}

#[tokio::test]
async fn data_text_and_binary_reach_one_connection() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut c, id) = join(&mut t, "/a").await;

    let sent = send_ok(
        &t,
        json!({"connection": id, "data": {"n": [1, 2], "s": "x"}}),
    )
    .await;
    assert_eq!(sent, (1, 0));
    let got: Value = serde_json::from_str(&next_text(&mut c).await).unwrap();
    assert_eq!(got, json!({"n": [1, 2], "s": "x"}));

    send_ok(&t, json!({"connection": id, "text": "not json {"})).await;
    assert_eq!(next_text(&mut c).await, "not json {");

    // "AAEC/w==" is the bytes 00 01 02 ff.
    send_ok(&t, json!({"connection": id, "binary": "AAEC/w=="})).await;
    match next_message(&mut c).await {
        Message::Binary(bytes) => assert_eq!(bytes.as_ref(), &[0u8, 1, 2, 255]),
        other => panic!("expected binary, got {other:?}"),
    }
    drop(c);
    t.server.shutdown().await;
}

#[tokio::test]
async fn envelope_endpoints_get_wrapped_data_and_raw_binary() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut env, env_id) = join(&mut t, "/env").await;
    let (mut plain, plain_id) = join(&mut t, "/a").await;

    let sent = send_ok(&t, json!({"all": true, "data": {"temp": 21}})).await;
    assert_eq!(sent, (2, 0));
    let wrapped: Value = serde_json::from_str(&next_text(&mut env).await).unwrap();
    assert_eq!(wrapped, json!({"payload": {"temp": 21}}));
    let bare: Value = serde_json::from_str(&next_text(&mut plain).await).unwrap();
    assert_eq!(bare, json!({"temp": 21}));

    send_ok(&t, json!({"connection": env_id, "text": "hi"})).await;
    let wrapped: Value = serde_json::from_str(&next_text(&mut env).await).unwrap();
    assert_eq!(wrapped, json!({"payload": "hi"}));

    send_ok(&t, json!({"connection": env_id, "binary": "aGk="})).await;
    assert_eq!(
        next_message(&mut env).await,
        Message::binary(b"hi".to_vec())
    );
    let _ = plain_id;
    drop((env, plain));
    t.server.shutdown().await;
}

#[tokio::test]
async fn connections_list_counts_only_known_ids() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut c1, id1) = join(&mut t, "/a").await;
    let (mut c2, id2) = join(&mut t, "/b").await;
    let (mut c3, id3) = join(&mut t, "/a").await;

    let unknown = "00000000-0000-4000-8000-000000000000";
    let sent = send_ok(
        &t,
        json!({"connections": [id1, id2, unknown, "not-an-id"], "text": "listed"}),
    )
    .await;
    assert_eq!(sent, (2, 0));
    assert_eq!(next_text(&mut c1).await, "listed");
    assert_eq!(next_text(&mut c2).await, "listed");
    assert_nothing_before_marker(&t, &mut c3, &id3).await;

    for id in [unknown, "not-an-id"] {
        let sent = send_ok(&t, json!({"connection": id, "text": "x"})).await;
        assert_eq!(sent, (0, 0), "{id}");
    }
    drop((c1, c2, c3));
    t.server.shutdown().await;
}

#[tokio::test]
async fn endpoint_target_reaches_only_that_endpoint() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut a1, _) = join(&mut t, "/a").await;
    let (mut a2, _) = join(&mut t, "/a").await;
    let (mut b, b_id) = join(&mut t, "/b").await;

    let sent = send_ok(&t, json!({"endpoint": "/a", "text": "to a"})).await;
    assert_eq!(sent, (2, 0));
    assert_eq!(next_text(&mut a1).await, "to a");
    assert_eq!(next_text(&mut a2).await, "to a");
    assert_nothing_before_marker(&t, &mut b, &b_id).await;

    let (status, body) = t
        .api("send", json!({"endpoint": "/zzz", "text": "x"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["code"], 107, "{body}");
    drop((a1, a2, b));
    t.server.shutdown().await;
}

#[tokio::test]
async fn all_with_exclude_skips_the_excluded() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut a, a_id) = join(&mut t, "/a").await;
    let (mut b, b_id) = join(&mut t, "/b").await;
    let (mut e, _) = join(&mut t, "/env").await;

    let sent = send_ok(
        &t,
        json!({"all": true, "text": "everyone", "exclude": [a_id]}),
    )
    .await;
    assert_eq!(sent, (2, 0));
    assert_eq!(next_text(&mut b).await, "everyone");
    assert_eq!(
        serde_json::from_str::<Value>(&next_text(&mut e).await).unwrap(),
        json!({"payload": "everyone"})
    );
    assert_nothing_before_marker(&t, &mut a, &a_id).await;

    // Excluding the only target delivers nothing.
    let sent = send_ok(
        &t,
        json!({"connection": b_id, "text": "x", "exclude": [b_id]}),
    )
    .await;
    assert_eq!(sent, (0, 0));
    assert_nothing_before_marker(&t, &mut b, &b_id).await;
    drop((a, b, e));
    t.server.shutdown().await;
}

#[tokio::test]
async fn user_target_without_such_user_delivers_nothing() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut a, a_id) = join(&mut t, "/a").await;
    let sent = send_ok(&t, json!({"user": "alice", "text": "x"})).await;
    assert_eq!(sent, (0, 0));
    assert_nothing_before_marker(&t, &mut a, &a_id).await;
    drop(a);
    t.server.shutdown().await;
}

#[tokio::test]
async fn target_and_payload_must_each_be_exactly_one() {
    let mut t = TestServer::start(ENDPOINTS).await;
    let (mut a, a_id) = join(&mut t, "/a").await;
    let bad = [
        json!({"text": "no target"}),
        json!({"connection": a_id, "all": true, "text": "two targets"}),
        json!({"endpoint": "/a", "user": "u", "text": "two targets"}),
        json!({"all": false, "text": "all false is no target"}),
        json!({"connection": a_id}),
        json!({"connection": a_id, "text": "t", "data": 1}),
        json!({"connection": a_id, "text": "t", "binary": "aGk="}),
        json!({"connection": a_id, "binary": "not base64!"}),
    ];
    for request in bad {
        let (status, body) = t.api("send", request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert_eq!(body["error"]["code"], 107, "{request}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{body}"
        );
    }
    // None of the rejected requests sent anything.
    assert_nothing_before_marker(&t, &mut a, &a_id).await;
    drop(a);
    t.server.shutdown().await;
}
