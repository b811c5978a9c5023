//! The library embedded: two servers in one process serve independently.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

#[tokio::test]
async fn two_servers_in_one_process_are_independent() {
    let mut one = TestServer::start("[[endpoints]]\npath = \"/one\"\n").await;
    let mut two = TestServer::start("[[endpoints]]\npath = \"/two\"\nmode = \"echo\"\n").await;
    assert_ne!(one.server.local_addr(), two.server.local_addr());

    let mut c1 = one.connect("/one").await;
    let id1 = one
        .next_event(EventType::Connect)
        .await
        .connection
        .id
        .clone();
    send_text(&mut c1, "for one").await;
    let message = one.next_event(EventType::Message).await;
    assert_eq!(message.message, Some(json!("for one")));

    // Server two knows nothing of server one's endpoint or client.
    let (_, info) = two.api("info", json!({})).await;
    assert_eq!(info["result"]["nodes"][0]["num_clients"], 0);
    assert_eq!(info["result"]["endpoints"][0]["path"], "/two");
    assert_ne!(info["result"]["nodes"][0]["uid"], {
        let (_, info1) = one.api("info", json!({})).await;
        info1["result"]["nodes"][0]["uid"].clone()
    });
    let (_, sent) = two
        .api("send", json!({"connection": id1, "text": "x"}))
        .await;
    assert_eq!(sent["result"]["delivered"], 0);
    let refused = two.raw_upgrade("/one", &[]).await;
    assert_eq!(refused.status, 404);

    // Server two echoes, server one does not: each runs its own config.
    let mut c2 = two.connect("/two").await;
    two.next_event(EventType::Connect).await;
    send_text(&mut c2, "echo me").await;
    assert_eq!(next_message(&mut c2).await.to_text().unwrap(), "echo me");

    // Shutting one down leaves two serving.
    let shutdown = tokio::spawn(one.server.shutdown());
    assert_eq!(expect_close_handshake(&mut c1).await.0, 1001);
    let report = tokio::time::timeout(WAIT, shutdown).await.unwrap().unwrap();
    assert_eq!(report.notified, 1);
    assert!(report.drained);
    send_text(&mut c2, "still here").await;
    assert_eq!(next_message(&mut c2).await.to_text().unwrap(), "still here");
    let (status, _) = two.api("info", json!({})).await;
    assert_eq!(status, 200);

    // The hub handle of the embedding program reaches its own server's clients.
    assert_eq!(two.server.hub().len(), 1);
    drop(c2);
    two.server.shutdown().await;
}
