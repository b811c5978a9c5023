//! Liveness and readiness probes while running (draining is in lifecycle_drain.rs).

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn healthz_and_readyz_answer_ok_while_running() {
    let t = TestServer::start("[[endpoints]]\npath = \"/ws\"\n").await;
    let response = t.http.get(t.http_url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"result": {"status": "ok"}})
    );
    let response = t.http.get(t.http_url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"result": {"status": "ready"}})
    );
    t.server.shutdown().await;
}
