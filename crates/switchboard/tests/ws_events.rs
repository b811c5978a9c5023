//! What events say about a connection: message types, envelope format,
//! connection metadata (user agent, origin, subprotocol, client address)
//! and the disconnect summary.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use switchboard::protocol::event::{EventType, MessageType};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn json_text_and_binary_messages_are_typed() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut client = t.connect("/ws").await;

    send_text(&mut client, r#"{"a":[1,2,{"b":null}]}"#).await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message_type, Some(MessageType::Json));
    assert_eq!(e.message, Some(json!({"a": [1, 2, {"b": null}]})));
    assert_eq!(e.envelope, None);

    send_text(&mut client, "42").await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(
        (e.message_type, e.message.clone()),
        (Some(MessageType::Json), Some(json!(42)))
    );

    send_text(&mut client, "hello {not json").await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message_type, Some(MessageType::Text));
    assert_eq!(e.message, Some(json!("hello {not json")));

    client
        .send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message_type, Some(MessageType::Binary));
    assert_eq!(
        e.message,
        Some(json!("AAEC/w==")),
        "standard, padded base64"
    );

    // Binary that happens to be JSON text is still binary.
    client.send(Message::binary(b"{}".to_vec())).await.unwrap();
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message_type, Some(MessageType::Binary));
    assert_eq!(e.message, Some(json!("e30=")));
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn envelope_format_splits_payload_and_wraps_server_data() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nformat = \"envelope\"\n").await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();

    send_text(
        &mut client,
        r#"{"topic":"room/1","payload":{"t":21.5},"qos":1}"#,
    )
    .await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message, Some(json!({"t": 21.5})));
    assert_eq!(e.envelope, Some(json!({"topic": "room/1", "qos": 1})));

    // Not an object: the whole message is the payload, no envelope.
    send_text(&mut client, "plain words").await;
    let e = t.next_event(EventType::Message).await;
    assert_eq!(e.message, Some(json!("plain words")));
    assert_eq!(e.envelope, None);

    // Data sent by the API arrives wrapped.
    let (_, body) = t
        .api("send", json!({"connection": id, "data": {"ok": true}}))
        .await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    let got: serde_json::Value =
        serde_json::from_str(next_message(&mut client).await.to_text().unwrap()).unwrap();
    assert_eq!(got, json!({"payload": {"ok": true}}));
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn connection_metadata_comes_from_the_handshake() {
    let mut t = TestServer::start(
        "[[endpoints]]\npath = \"/ws\"\nsubprotocols = [\"v2.json\", \"v1.json\"]\n",
    )
    .await;
    let (mut client, response) = t
        .connect_with(
            "/ws",
            &[
                ("User-Agent", "switchboard-tests/1.0"),
                ("Origin", "https://app.example"),
                ("Sec-WebSocket-Protocol", "v1.json, v2.json"),
            ],
        )
        .await;
    // The server's preference wins over the client's order.
    assert_eq!(header(&response, "sec-websocket-protocol"), Some("v2.json"));

    let connect = t.next_event(EventType::Connect).await;
    let c = &connect.connection;
    assert_eq!(&*c.endpoint, "/ws");
    assert_eq!(c.user_agent.as_deref(), Some("switchboard-tests/1.0"));
    assert_eq!(c.origin.as_deref(), Some("https://app.example"));
    assert_eq!(c.subprotocol.as_deref(), Some("v2.json"));
    assert_eq!(c.remote_addr, format!("127.0.0.1:{}", local_port(&client)));
    assert_eq!(c.user, None);
    assert!(is_uuid(&c.id), "{}", c.id);
    assert!(
        c.connected_at.contains('T') && c.connected_at.ends_with('Z'),
        "{}",
        c.connected_at
    );

    // Every later event of the connection carries the same metadata.
    send_text(&mut client, "x").await;
    let message = t.next_event(EventType::Message).await;
    assert_eq!(message.connection, connect.connection);
    drop(client);
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.connection, connect.connection);
    t.server.shutdown().await;
}

#[tokio::test]
async fn no_common_subprotocol_means_none() {
    let mut t =
        TestServer::start("[[endpoints]]\npath = \"/ws\"\nsubprotocols = [\"v2.json\"]\n").await;
    let raw = t
        .raw_upgrade("/ws", &[("Sec-WebSocket-Protocol", "mqtt")])
        .await;
    assert_eq!(raw.status, 101);
    assert_eq!(raw.header("sec-websocket-protocol"), None);
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.subprotocol, None);
    drop(raw);
    t.server.shutdown().await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusting = "[server]\nbind = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\n[[endpoints]]\npath = \"/ws\"\n";
    let mut t = TestServer::start(trusting).await;
    let (client, _) = t
        .connect_with("/ws", &[("X-Forwarded-For", "203.0.113.7")])
        .await;
    assert_eq!(
        t.next_event(EventType::Connect)
            .await
            .connection
            .remote_addr,
        "203.0.113.7"
    );
    // A forged left-most entry is skipped: the right-most untrusted hop counts.
    let (other, _) = t
        .connect_with("/ws", &[("X-Forwarded-For", "6.6.6.6, 198.51.100.4")])
        .await;
    assert_eq!(
        t.next_event(EventType::Connect)
            .await
            .connection
            .remote_addr,
        "198.51.100.4"
    );
    drop((client, other));
    t.server.shutdown().await;

    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let (client, _) = t
        .connect_with("/ws", &[("X-Forwarded-For", "203.0.113.7")])
        .await;
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(
        connect.connection.remote_addr,
        format!("127.0.0.1:{}", local_port(&client))
    );
    drop(client);
    t.server.shutdown().await;
}

#[tokio::test]
async fn disconnect_event_summarises_the_connection() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let mut client = t.connect("/ws").await;
    let id = t.next_event(EventType::Connect).await.connection.id.clone();
    send_text(&mut client, "hello").await;
    client.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    t.next_event(EventType::Message).await;
    t.next_event(EventType::Message).await;
    t.api("send", json!({"connection": id, "text": "from server"}))
        .await;
    assert_eq!(
        next_message(&mut client).await.to_text().unwrap(),
        "from server"
    );

    client
        .close(Some(CloseFrame {
            code: CloseCode::Library(4001),
            reason: "bye now".into(),
        }))
        .await
        .unwrap();
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.reason.as_str()), (4001, "bye now"));
    assert_eq!(d.initiator, "client");
    assert_eq!((d.messages_in, d.bytes_in), (2, 8));
    assert_eq!((d.messages_out, d.bytes_out), (1, 11));
    assert!(d.duration_ms < 10_000);
    // The server answered the close with the same code.
    assert_eq!(expect_close(&mut client).await.0, 4001);
    t.server.shutdown().await;
}

#[tokio::test]
async fn dropped_tcp_is_a_network_disconnect() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let client = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    drop(client);
    let gone = t.next_event(EventType::Disconnect).await;
    let d = gone.disconnect.as_ref().unwrap();
    assert_eq!((d.code, d.initiator.as_str()), (1006, "network"));
    t.server.shutdown().await;
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}
