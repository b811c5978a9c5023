//! The welcome message: default template, custom template, and its place
//! as the very first message.

mod common;

use common::*;
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;

#[tokio::test]
async fn default_endpoint_sends_the_default_welcome() {
    // No [[endpoints]]: the built-in /ws endpoint, with welcome on.
    let mut t = TestServer::start("").await;
    let mut client = t.connect("/ws").await;
    let welcome: Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    let connect = t.next_event(EventType::Connect).await;
    let c = &connect.connection;
    assert_eq!(
        welcome,
        json!({
            "type": "welcome",
            "connection_id": c.id,
            "endpoint": "/ws",
            "timestamp": c.connected_at,
        })
    );
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn custom_template_renders_every_placeholder() {
    let toml = "[[endpoints]]\npath = \"/chat\"\nwelcome = true\nwelcome_message = \"hi {remote_addr} on {endpoint} as {connection_id} since {timestamp} {not a placeholder}\"\n";
    let mut t = TestServer::start(toml).await;
    let mut client = t.connect("/chat").await;
    let text = next_message(&mut client).await.into_text().unwrap();
    let connect = t.next_event(EventType::Connect).await;
    let c = &connect.connection;
    assert_eq!(c.remote_addr, format!("127.0.0.1:{}", local_port(&client)));
    assert_eq!(
        text.as_str(),
        format!(
            "hi {} on /chat as {} since {} {{not a placeholder}}",
            c.remote_addr, c.id, c.connected_at
        )
    );
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn welcome_comes_before_anything_the_api_sends() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nwelcome = true\n").await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    let (_, body) = t
        .api("send", json!({"connection": id, "text": "second"}))
        .await;
    assert_eq!(body["result"]["delivered"], 1);
    let first: Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    assert_eq!(first["type"], "welcome");
    assert_eq!(next_message(&mut client).await.to_text().unwrap(), "second");
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn no_welcome_when_disabled() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    t.api("send", json!({"connection": id, "text": "only this"}))
        .await;
    assert_eq!(
        next_message(&mut client).await.to_text().unwrap(),
        "only this"
    );
    client.close(None).await.unwrap();
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.disconnect.as_ref().unwrap().messages_out, 1);
    t.server.shutdown().await;
}
