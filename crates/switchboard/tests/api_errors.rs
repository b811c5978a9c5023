//! Transport-level API errors and the JSON answers of unknown routes and
//! wrong HTTP methods: one error shape whatever went wrong.

mod common;

use common::*;
use serde_json::Value;

const SMALL_BODY: &str = "[api]\nmax_body_size = 64\n[[endpoints]]\npath = \"/ws\"\n";

fn assert_error(status: u16, body: &Value, want_status: u16, want_code: u64) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{body}"
    );
    assert!(body.get("result").is_none(), "{body}");
}

#[tokio::test]
async fn malformed_json_is_400_with_code_107() {
    let t = TestServer::start(SMALL_BODY).await;
    for body in ["{", "not json", "[1,2", "{\"connection\": }"] {
        let (status, reply) = t.api_raw("send", body, &[]).await;
        assert_error(status, &reply, 400, 107);
    }
    // Only a JSON object is a request: an array is not read by position
    // (`[null, null, 5]` must not mean `limit: 5`), nor is any other value.
    for body in ["[]", "[null, null, 5]", "null", "5", "\"info\""] {
        let (status, reply) = t.api_raw("connections", body, &[]).await;
        assert_error(status, &reply, 400, 107);
    }
    t.server.shutdown().await;
}

#[tokio::test]
async fn unknown_method_is_404_with_code_104() {
    let t = TestServer::start(SMALL_BODY).await;
    let (status, reply) = t.api_raw("no_such_method", "{}", &[]).await;
    assert_error(status, &reply, 404, 104);
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no_such_method"));
    t.server.shutdown().await;
}

#[tokio::test]
async fn body_over_max_body_size_is_413_with_code_106() {
    let t = TestServer::start(SMALL_BODY).await;
    // Exactly the limit is accepted.
    let at_limit = format!("{{}}{}", " ".repeat(62));
    assert_eq!(at_limit.len(), 64);
    let (status, reply) = t.api_raw("info", at_limit, &[]).await;
    assert_eq!(status, 200, "{reply}");

    let over = format!("{{}}{}", " ".repeat(63));
    let (status, reply) = t.api_raw("info", over, &[]).await;
    assert_error(status, &reply, 413, 106);

    let big = format!(r#"{{"all": true, "text": "{}"}}"#, "x".repeat(10_000));
    let (status, reply) = t.api_raw("send", big, &[]).await;
    assert_error(status, &reply, 413, 106);
    t.server.shutdown().await;
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let t = TestServer::start(SMALL_BODY).await;
    for path in ["/nope", "/api", "/ws/extra", "/healthz/x"] {
        let response = t.http.get(t.http_url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, 404, 104);
    }
    t.server.shutdown().await;
}

#[tokio::test]
async fn wrong_http_method_is_a_json_405() {
    let t = TestServer::start(SMALL_BODY).await;
    let requests = [
        t.http.get(t.http_url("/api/info")),
        t.http.post(t.http_url("/healthz")),
        t.http.delete(t.http_url("/metrics")),
        t.http.put(t.http_url("/readyz")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let url = response.url().clone();
        let body: Value = response.json().await.unwrap();
        assert_error(status, &body, 405, 107);
        let _ = url;
    }
    t.server.shutdown().await;
}
