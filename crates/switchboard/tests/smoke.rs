//! The path of a message end to end: connect, welcome, message event,
//! server API send back, disconnect event.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

#[tokio::test]
async fn message_round_trip_through_events_and_api() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nwelcome = true\n").await;
    let mut client = t.connect("/ws").await;

    let welcome: serde_json::Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(welcome["connection_id"], connect.connection.id.as_str());

    send_text(&mut client, r#"{"temperature":23.5}"#).await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.message, Some(json!({"temperature": 23.5})));
    assert_eq!(message.connection.id, connect.connection.id);

    let (status, body) = t
        .api(
            "send",
            json!({"connection": connect.connection.id, "data": {"ok": true}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["delivered"], 1);
    assert_eq!(
        next_message(&mut client).await.to_text().unwrap(),
        r#"{"ok":true}"#
    );

    client.close(None).await.unwrap();
    let gone = t.next_event(EventType::Disconnect).await;
    let info = gone.disconnect.as_ref().unwrap();
    assert_eq!(info.code, 1005);
    assert_eq!(info.initiator, "client");
    assert_eq!(info.messages_in, 1);
    assert_eq!(info.messages_out, 2);
    t.server.shutdown().await;
}
