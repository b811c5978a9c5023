//! The `disconnect` API method (Centrifugo's shape): code and reason reach
//! the client and the disconnect event; bad codes are refused.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

const WS: &str = "[[endpoints]]\npath = \"/ws\"\n";

async fn join(t: &mut TestServer) -> (Client, String) {
    let client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    (client, id)
}

#[tokio::test]
async fn client_gets_the_given_code_and_reason() {
    let mut t = TestServer::start(WS).await;
    let (mut c, id) = join(&mut t).await;
    let (status, body) = t
        .api(
            "disconnect",
            json!({"client": id, "disconnect": {"code": 4001, "reason": "kicked"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["disconnected"], 1);
    assert_eq!(
        expect_close_handshake(&mut c).await,
        (4001, "kicked".to_owned())
    );

    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.connection.id, id);
    let info = gone.disconnect.as_ref().unwrap();
    assert_eq!(info.code, 4001);
    assert_eq!(info.reason, "kicked");
    assert_eq!(info.initiator, "server");
    drop(c);
    t.server.shutdown().await;
}

#[tokio::test]
async fn default_close_is_1000_disconnected_by_server() {
    let mut t = TestServer::start(WS).await;
    let (mut c, id) = join(&mut t).await;
    // `connection` is accepted as another name for `client`.
    let (status, body) = t.api("disconnect", json!({"connection": id})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["disconnected"], 1);
    assert_eq!(
        expect_close_handshake(&mut c).await,
        (1000, "disconnected by server".to_owned())
    );
    let gone = t.next_event(EventType::Disconnect).await;
    let info = gone.disconnect.as_ref().unwrap();
    assert_eq!((info.code, info.initiator.as_str()), (1000, "server"));
    drop(c);
    t.server.shutdown().await;
}

#[tokio::test]
async fn codes_outside_1000_and_3000_to_4999_are_refused() {
    let mut t = TestServer::start(WS).await;
    let (mut c, id) = join(&mut t).await;
    for code in [999, 1001, 1006, 1011, 2999, 5000] {
        let (status, body) = t
            .api(
                "disconnect",
                json!({"client": id, "disconnect": {"code": code, "reason": "x"}}),
            )
            .await;
        assert_eq!(status, 200, "{code}: {body}");
        assert_eq!(body["error"]["code"], 107, "{code}: {body}");
    }
    let long = "r".repeat(124);
    let (_, body) = t
        .api(
            "disconnect",
            json!({"client": id, "disconnect": {"code": 4000, "reason": long}}),
        )
        .await;
    assert_eq!(body["error"]["code"], 107, "reason over 123 bytes: {body}");

    let (_, body) = t.api("disconnect", json!({})).await;
    assert_eq!(body["error"]["code"], 107, "no target: {body}");

    // Still connected: the boundary codes work and close it now.
    let (_, body) = t
        .api(
            "disconnect",
            json!({"client": id, "disconnect": {"code": 3000, "reason": "r".repeat(123)}}),
        )
        .await;
    assert_eq!(body["result"]["disconnected"], 1, "{body}");
    assert_eq!(expect_close(&mut c).await.0, 3000);
    drop(c);
    t.server.shutdown().await;
}

#[tokio::test]
async fn unknown_client_and_user_disconnect_nobody() {
    let mut t = TestServer::start(WS).await;
    let (mut c, id) = join(&mut t).await;
    for request in [
        json!({"client": "00000000-0000-4000-8000-000000000000"}),
        json!({"client": "garbage"}),
        json!({"user": "alice"}),
        // `client` with a `user` means that user's connection only.
        json!({"client": id, "user": "alice"}),
        // The whitelist keeps a connection.
        json!({"client": id, "whitelist": [id]}),
    ] {
        let (status, body) = t.api("disconnect", request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert_eq!(body["result"]["disconnected"], 0, "{request}: {body}");
    }
    // The connection is still open and served.
    let (_, body) = t
        .api("send", json!({"connection": id, "text": "alive"}))
        .await;
    assert_eq!(body["result"]["delivered"], 1);
    assert_eq!(next_message(&mut c).await.to_text().unwrap(), "alive");
    drop(c);
    t.server.shutdown().await;
}
