//! The `info` API method: node list and every endpoint with live figures.

mod common;

use common::*;
use serde_json::json;
use switchboard::protocol::event::EventType;

const TWO_ENDPOINTS: &str = r#"
[[endpoints]]
path = "/ws"
max_connections = 7
compression = "shared"
[endpoints.heartbeat]
mode = "send"
interval_ms = 20000
timeout_ms = 5000

[[endpoints]]
path = "/echo"
mode = "echo"
"#;

#[tokio::test]
async fn info_describes_nodes_and_endpoints() {
    let t = TestServer::start(TWO_ENDPOINTS).await;
    let (status, body) = t.api("info", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    let addr = t.server.local_addr();

    let node = &result["nodes"][0];
    assert_eq!(result["nodes"].as_array().unwrap().len(), 1);
    assert!(!node["uid"].as_str().unwrap().is_empty());
    assert_eq!(node["name"], addr.to_string());
    assert_eq!(node["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(result["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(node["num_clients"], 0);
    assert_eq!(node["num_users"], 0);
    assert_eq!(node["num_channels"], 0);
    assert_eq!(node["num_subs"], 0);
    assert!(node["uptime"].is_u64());
    assert!(result["uptime_seconds"].is_u64());

    let endpoints = result["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2);
    let ws = &endpoints[0];
    assert_eq!(ws["path"], "/ws");
    assert_eq!(ws["url"], format!("ws://127.0.0.1:{}/ws", addr.port()));
    assert_eq!(ws["mode"], "raw");
    assert_eq!(ws["max_connections"], 7);
    assert_eq!(
        ws["heartbeat"],
        json!({"mode": "send", "interval_ms": 20000, "timeout_ms": 5000})
    );
    assert_eq!(ws["compression"], "shared");
    assert_eq!(ws["active_connections"], 0);
    assert_eq!(ws["accepted"], 0);
    assert_eq!(ws["rejected"], 0);
    assert_eq!(ws["closed"], 0);

    let echo = &endpoints[1];
    assert_eq!(echo["path"], "/echo");
    assert_eq!(echo["mode"], "echo");
    assert_eq!(echo["max_connections"], 10000);
    assert_eq!(echo["heartbeat"]["mode"], "none");
    assert_eq!(echo["compression"], "disabled");
    t.server.shutdown().await;
}

#[tokio::test]
async fn info_figures_follow_connections() {
    let mut t = TestServer::start(TWO_ENDPOINTS).await;
    let a = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    let mut b = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;

    let (_, body) = t.api("info", json!({})).await;
    let result = &body["result"];
    assert_eq!(result["nodes"][0]["num_clients"], 2);
    assert_eq!(result["endpoints"][0]["active_connections"], 2);
    assert_eq!(result["endpoints"][0]["accepted"], 2);
    assert_eq!(result["endpoints"][0]["closed"], 0);
    assert_eq!(result["endpoints"][1]["active_connections"], 0);

    b.close(None).await.unwrap();
    t.next_event(EventType::Disconnect).await;
    let (_, body) = t.api("info", json!({})).await;
    let ws = &body["result"]["endpoints"][0];
    assert_eq!(body["result"]["nodes"][0]["num_clients"], 1);
    assert_eq!(ws["active_connections"], 1);
    assert_eq!(ws["accepted"], 2);
    assert_eq!(ws["closed"], 1);
    drop((a, b));
    t.server.shutdown().await;
}

#[tokio::test]
async fn info_counts_refused_connections() {
    let mut t = TestServer::start("[[endpoints]]\npath = \"/ws\"\nmax_connections = 1\n").await;
    let kept = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    let mut refused = t.connect("/ws").await;
    assert_eq!(expect_close(&mut refused).await.0, 1013);
    t.next_event(EventType::Error).await;

    let (_, body) = t.api("info", json!({})).await;
    let ws = &body["result"]["endpoints"][0];
    assert_eq!(ws["rejected"], 1);
    assert_eq!(ws["accepted"], 1);
    assert_eq!(ws["active_connections"], 1);
    drop((kept, refused));
    t.server.shutdown().await;
}

#[tokio::test]
async fn info_accepts_an_empty_body_and_rejects_parameters() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let (status, body) = t.api_raw("info", "", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["endpoints"][0]["path"], "/ws");

    // info takes no parameters: a stray one is a client mistake, not ignored.
    let (status, body) = t.api("info", json!({"verbose": true})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 107);
    t.server.shutdown().await;
}
