//! Two servers in one process are independent: connections, events, the
//! API and metrics of one never show up in the other.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

#[tokio::test]
async fn two_servers_do_not_share_anything() {
    let toml = "[[endpoints]]\npath = \"/ws\"\nmax_connections = 1\n";
    let mut a = TestServer::start(toml).await;
    let mut b = TestServer::start(toml).await;
    assert_ne!(a.server.local_addr(), b.server.local_addr());

    let mut on_a = a.connect("/ws").await;
    let a_id = a.next_event(EventType::Connect).await.connection.id.clone();
    // B's limit of one is not used up by A's client.
    let mut on_b = b.connect("/ws").await;
    let b_id = b.next_event(EventType::Connect).await.connection.id.clone();

    let ids = |body: serde_json::Value| -> Vec<String> {
        body["result"]["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(a.api("connections", json!({})).await.1),
        vec![a_id.clone()]
    );
    assert_eq!(
        ids(b.api("connections", json!({})).await.1),
        vec![b_id.clone()]
    );

    // B's API cannot reach A's connection, and broadcasts stay on B.
    let (_, body) = b
        .api("send", json!({"connection": a_id, "text": "x"}))
        .await;
    assert_eq!(body["result"]["delivered"], 0, "{body}");
    let (_, body) = b.api("send", json!({"all": true, "text": "from b"})).await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    assert_eq!(next_message(&mut on_b).await.to_text().unwrap(), "from b");
    let (_, body) = a.api("send", json!({"all": true, "text": "from a"})).await;
    assert_eq!(body["result"]["delivered"], 1, "{body}");
    assert_eq!(next_message(&mut on_a).await.to_text().unwrap(), "from a");

    // Each server's events are its own.
    send_text(&mut on_a, "to a").await;
    let message = a.next_event(EventType::Message).await;
    assert_eq!(message.connection.id, a_id);
    b.no_event(EventType::Message, std::time::Duration::from_millis(100))
        .await;

    let accepted = r#"switchboard_connections_accepted_total{endpoint="/ws"}"#;
    assert_eq!(metric(&a.metrics().await, accepted), 1);
    assert_eq!(metric(&b.metrics().await, accepted), 1);

    // Stopping one leaves the other serving.
    drop(on_a);
    a.server.shutdown().await;
    send_text(&mut on_b, "still up").await;
    assert_eq!(b.next_event(EventType::Message).await.connection.id, b_id);
    drop(on_b);
    b.server.shutdown().await;
}
