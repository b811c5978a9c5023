//! `GET /metrics`: the Prometheus text changes with real traffic.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use switchboard::protocol::event::EventType;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const TWO: &str =
    "[[endpoints]]\npath = \"/ws\"\nmax_connections = 1\n[[endpoints]]\npath = \"/other\"\n";

#[tokio::test]
async fn traffic_counters_follow_messages() {
    let mut t = TestServer::start(TWO).await;
    let before = t.metrics().await;
    for family in [
        "connections",
        "connections_accepted_total",
        "messages_in_total",
        "bytes_in_total",
        "messages_out_total",
        "bytes_out_total",
        "queue_dropped_total",
        "queue_overflow_closes_total",
    ] {
        assert_eq!(
            metric(
                &before,
                &format!("switchboard_{family}{{endpoint=\"/ws\"}}")
            ),
            0
        );
    }
    assert!(before.contains("# TYPE switchboard_connections gauge"));
    assert!(before.contains("# TYPE switchboard_messages_in_total counter"));

    let mut c = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    for text in ["abc", "de", "f"] {
        send_text(&mut c, text).await;
    }
    for _ in 0..3 {
        t.next_event(EventType::Message).await;
    }
    let (_, body) = t
        .api("send", json!({"endpoint": "/ws", "text": "hello"}))
        .await;
    assert_eq!(body["result"]["delivered"], 1);
    assert_eq!(next_message(&mut c).await.to_text().unwrap(), "hello");

    let m = t.metrics().await;
    let ws = |family: &str| metric(&m, &format!("switchboard_{family}{{endpoint=\"/ws\"}}"));
    assert_eq!(ws("connections"), 1);
    assert_eq!(ws("connections_accepted_total"), 1);
    assert_eq!(ws("messages_in_total"), 3);
    assert_eq!(ws("bytes_in_total"), 6);
    assert_eq!(ws("messages_out_total"), 1);
    assert_eq!(ws("bytes_out_total"), 5);
    // The other endpoint saw none of it.
    let other = |family: &str| metric(&m, &format!("switchboard_{family}{{endpoint=\"/other\"}}"));
    assert_eq!(other("messages_in_total"), 0);
    assert_eq!(other("connections"), 0);

    c.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .await
    .unwrap();
    t.next_event(EventType::Disconnect).await;
    let m = t.metrics().await;
    assert_eq!(metric(&m, "switchboard_connections{endpoint=\"/ws\"}"), 0);
    assert_eq!(
        metric(
            &m,
            "switchboard_connections_closed_total{endpoint=\"/ws\",code=\"1000\"}"
        ),
        1
    );
    drop(c);
    t.server.shutdown().await;
}

#[tokio::test]
async fn refused_connections_are_counted_by_reason() {
    let mut t = TestServer::start(TWO).await;
    let kept = t.connect("/ws").await;
    t.next_event(EventType::Connect).await;
    let mut refused = t.connect("/ws").await;
    assert_eq!(expect_close_handshake(&mut refused).await.0, 1013);
    t.next_event(EventType::Error).await;

    let m = t.metrics().await;
    let rejected = |reason: &str| {
        metric(
            &m,
            &format!(
                "switchboard_connections_rejected_total{{endpoint=\"/ws\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(rejected("capacity"), 1);
    assert_eq!(rejected("draining"), 0);
    assert_eq!(rejected("handshake"), 0);
    assert_eq!(
        metric(
            &m,
            "switchboard_connections_accepted_total{endpoint=\"/ws\"}"
        ),
        1
    );
    assert_eq!(metric(&m, "switchboard_connections{endpoint=\"/ws\"}"), 1);
    drop((kept, refused));
    t.server.shutdown().await;
}

#[tokio::test]
async fn sink_and_uptime_figures_are_exported() {
    let mut t = TestServer::start(TWO).await;
    let mut c = t.connect("/other").await;
    t.next_event(EventType::Connect).await;
    c.send(Message::text("{\"a\":1}")).await.unwrap();
    t.next_event(EventType::Message).await;

    // The test's own subscription is a sink: it has had exactly these 2 events.
    let m = t.metrics().await;
    assert_eq!(
        metric(
            &m,
            "switchboard_sink_events_total{sink=\"subscriber\",outcome=\"delivered\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &m,
            "switchboard_sink_events_total{sink=\"subscriber\",outcome=\"dropped\"}"
        ),
        0
    );
    assert!(m.contains("# TYPE switchboard_uptime_seconds gauge"));
    metric(&m, "switchboard_uptime_seconds");

    let response = t.http.get(t.http_url("/metrics")).send().await.unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    drop(c);
    t.server.shutdown().await;
}
