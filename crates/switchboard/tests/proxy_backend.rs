//! The backend proxy against a real HTTP backend: raw handshakes decided by
//! the backend (allowed with a user, refused, backend down failing closed
//! and open), channels connect with the backend's user and data, subscribe
//! and publish decided (and data replaced) by it, RPC answered by it (and a
//! timeout answered with error 100), a disconnect answer, and the cache of
//! positive answers.

#[path = "common/centrifuge.rs"]
mod centrifuge;
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use centrifuge::{Centrifuge, PATH};
use common::*;
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;

/// Every request the backend got, as (kind, body).
type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// The backend's decisions, in Centrifugo's proxy answer shapes.
async fn decide(
    State(log): State<Log>,
    Path(kind): Path<String>,
    Json(body): Json<Value>,
) -> Json<Value> {
    log.lock().unwrap().push((kind.clone(), body.clone()));
    let answer = match kind.as_str() {
        "connect" => {
            let raw_user = body["headers"]["authorization"]
                .as_str()
                .and_then(|a| a.strip_prefix("Bearer "));
            let channels_user = body["data"]["session"].as_str();
            match raw_user.or(channels_user) {
                Some("bad") => json!({"error": {"code": 4403, "message": "session expired"}}),
                Some("kick") => json!({"disconnect": {"code": 4501, "reason": "go away"}}),
                Some(user) => json!({"result": {"user": user, "data": {"hello": user}}}),
                None => json!({"error": {"code": 101, "message": "who are you?"}}),
            }
        }
        "subscribe" if body["channel"] == "guarded:secret" => {
            json!({"error": {"code": 4403, "message": "not for you"}})
        }
        "subscribe" if body["channel"] == "guarded:kick" => {
            json!({"disconnect": {"code": 4502, "reason": "subscribed where you should not"}})
        }
        "subscribe" => json!({"result": {}}),
        "publish" => json!({"result": {"data": {"checked": body["data"], "by": body["user"]}}}),
        "rpc" if body["method"] == "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json!({"result": {}})
        }
        "rpc" => {
            let (a, b) = (
                body["data"]["a"].as_i64().unwrap_or(0),
                body["data"]["b"].as_i64().unwrap_or(0),
            );
            json!({"result": {"data": {"sum": a + b, "user": body["user"]}}})
        }
        _ => json!({"error": {"code": 404, "message": "unknown"}}),
    };
    Json(answer)
}

struct Backend {
    url: String,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    async fn start() -> Backend {
        let log: Log = Arc::default();
        let app = axum::Router::new()
            .route("/proxy/{kind}", axum::routing::post(decide))
            .with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/proxy", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Backend { url, log, task }
    }

    fn calls(&self, kind: &str) -> Vec<Value> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

fn proxy_config(base: &str, extra: &str) -> String {
    // Schema of the channels endpoint's messages: `a` and `b` are numbers.
    let schema = std::env::temp_dir().join(format!("sb-rpc-schema-{}.json", std::process::id()));
    std::fs::write(
        &schema,
        r#"{"type": ["object", "null"], "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}"#,
    )
    .unwrap();
    format!(
        r#"
[proxy]
connect_url = "{base}/connect"
subscribe_url = "{base}/subscribe"
publish_url = "{base}/publish"
rpc_url = "{base}/rpc"
timeout_ms = 1000
{extra}

[[endpoints]]
path = "/raw"
welcome = false
[endpoints.auth]
mode = "proxy"

[[endpoints]]
path = "{PATH}"
mode = "channels"
message_schema_file = "{schema}"
[endpoints.auth]
mode = "proxy"

[[channels.namespaces]]
name = "guarded"
allow_publish = true
proxy_subscribe = true
proxy_publish = true
"#,
        schema = schema.display()
    )
}

async fn raw_status(server: &TestServer, bearer: &str) -> u16 {
    let request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        server.ws_url("/raw"),
    )
    .map(|mut r| {
        r.headers_mut()
            .insert("authorization", format!("Bearer {bearer}").parse().unwrap());
        r
    })
    .unwrap();
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn the_backend_decides_raw_handshakes() {
    let backend = Backend::start().await;
    let mut server = TestServer::start(&proxy_config(&backend.url, "")).await;
    assert_eq!(raw_status(&server, "alice").await, 101);
    let connect = server.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.user.as_deref(), Some("alice"));
    let asked = &backend.calls("connect")[0];
    assert_eq!(asked["client"], connect.connection.id.as_str());
    assert_eq!(asked["protocol"], "raw");
    assert_eq!(asked["endpoint"], "/raw");
    assert!(asked["remote_addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1"));
    assert_eq!(raw_status(&server, "bad").await, 403);
    assert_eq!(raw_status(&server, "kick").await, 403);
    let metrics = server.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            r#"switchboard_connections_rejected_total{endpoint="/raw",reason="auth"}"#
        ),
        2
    );
}

#[tokio::test]
async fn a_backend_that_is_down_fails_closed_or_open_as_configured() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{port}/proxy");
    let closed = TestServer::start(&proxy_config(&down, "")).await;
    assert_eq!(raw_status(&closed, "alice").await, 503);
    let mut client = Centrifuge::open(&closed.ws_url(PATH)).await;
    let refused = client
        .command("connect", json!({"data": {"session": "alice"}}))
        .await;
    assert_eq!(refused["error"]["code"], 100, "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("backend unavailable"));

    let mut open = TestServer::start(&proxy_config(&down, "on_error = \"allow\"")).await;
    assert_eq!(raw_status(&open, "alice").await, 101);
    let connect = open.next_event(EventType::Connect).await;
    assert_eq!(
        connect.connection.user.as_deref(),
        Some(""),
        "failing open admits an anonymous client"
    );
}

#[tokio::test]
async fn channels_connect_subscribe_publish_and_rpc_go_through_the_backend() {
    let backend = Backend::start().await;
    let server = TestServer::start(&proxy_config(&backend.url, "")).await;
    let url = server.ws_url(PATH);
    let mut bob = Centrifuge::open(&url).await;
    let connected = bob
        .call(
            "connect",
            json!({"data": {"session": "bob"}, "name": "test"}),
        )
        .await;
    assert_eq!(connected["data"], json!({"hello": "bob"}));
    assert_eq!(
        backend.calls("connect")[0]["data"],
        json!({"session": "bob"})
    );

    let mut refused = Centrifuge::open(&url).await;
    let reply = refused
        .command("connect", json!({"data": {"session": "bad"}}))
        .await;
    assert_eq!(
        reply["error"],
        json!({"code": 4403, "message": "session expired"})
    );

    // Subscribe: the backend refuses one channel, allows another.
    let denied = bob
        .command("subscribe", json!({"channel": "guarded:secret"}))
        .await;
    assert_eq!(denied["error"]["code"], 4403, "{denied}");
    bob.subscribe("guarded:room").await;
    let asked = backend.calls("subscribe");
    assert_eq!(
        (asked[1]["channel"].as_str(), asked[1]["user"].as_str()),
        (Some("guarded:room"), Some("bob"))
    );

    // Publish: the backend's data is what subscribers get.
    bob.publish("guarded:room", json!({"text": "hi"})).await;
    let publication = bob.next_publication("guarded:room").await;
    assert_eq!(
        publication["data"],
        json!({"checked": {"text": "hi"}, "by": "bob"})
    );

    // RPC: answered with the backend's data; a slow backend is error 100.
    let answer = bob
        .call("rpc", json!({"method": "add", "data": {"a": 2, "b": 3}}))
        .await;
    assert_eq!(answer["data"], json!({"sum": 5, "user": "bob"}));
    let invalid = bob
        .command("rpc", json!({"method": "add", "data": {"a": "two"}}))
        .await;
    assert_eq!(invalid["error"]["code"], 107, "{invalid}");
    assert!(
        invalid["error"]["message"].as_str().unwrap().contains("/a"),
        "{invalid}"
    );
    let slow = bob.command("rpc", json!({"method": "slow"})).await;
    assert_eq!(slow["error"]["code"], 100, "{slow}");
    assert!(
        slow["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{slow}"
    );

    // A disconnect answer closes the connection with its code.
    let (_, line) = bob.command_line("subscribe", json!({"channel": "guarded:kick"}));
    bob.send_text(&line).await;
    assert_eq!(
        bob.expect_close().await,
        (4502, "subscribed where you should not".to_owned())
    );
}

#[tokio::test]
async fn positive_answers_are_cached_for_cache_ttl() {
    let backend = Backend::start().await;
    let server = TestServer::start(&proxy_config(&backend.url, "cache_ttl_ms = 60000")).await;
    let url = server.ws_url(PATH);
    for _ in 0..3 {
        let mut carol = Centrifuge::open(&url).await;
        carol
            .call("connect", json!({"data": {"session": "carol"}}))
            .await;
        carol.subscribe("guarded:room").await;
    }
    assert_eq!(
        backend.calls("connect").len(),
        1,
        "the same connect request, asked once"
    );
    assert_eq!(backend.calls("subscribe").len(), 1);
    // Refusals are never cached.
    for _ in 0..2 {
        let mut bad = Centrifuge::open(&url).await;
        bad.command("connect", json!({"data": {"session": "bad"}}))
            .await;
    }
    assert_eq!(backend.calls("connect").len(), 3);
}
