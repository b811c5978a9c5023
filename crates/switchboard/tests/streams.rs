//! SSE and HTTP-streaming connections over real HTTP: the raw SSE wire
//! (session event, messages, posts, close event), the checks a stream
//! client passes like a WebSocket one, shutdown, clients that leave, and
//! the demo routes.

mod common;

use common::{TestServer, WAIT};
use serde_json::{json, Value};
use switchboard::protocol::event::EventType;

const RAW_SSE: &str = r#"
[[endpoints]]
path = "/ws"
mode = "raw"
welcome = true
sse_path = "/ws/sse"
"#;

/// A stream response read chunk by chunk.
struct Stream {
    response: reqwest::Response,
    text: String,
}

impl Stream {
    async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("answered in time")
            .expect("request succeeds");
        assert_eq!(response.status(), 200);
        Self {
            response,
            text: String::new(),
        }
    }

    /// Reads until the text holds `needle`; returns everything read so far.
    async fn until(&mut self, needle: &str) -> &str {
        while !self.text.contains(needle) {
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in time; got {:?}", self.text))
                .expect("stream readable")
                .unwrap_or_else(|| panic!("stream ended before {needle:?}: {:?}", self.text));
            self.text
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
        &self.text
    }

    /// Reads to the end of the response.
    async fn end(&mut self) -> &str {
        while let Some(chunk) = tokio::time::timeout(WAIT, self.response.chunk())
            .await
            .expect("the stream ends in time")
            .expect("stream readable")
        {
            self.text
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
        &self.text
    }

    /// The data of the first SSE event named `name`.
    fn event(&self, name: &str) -> Value {
        let head = format!("event: {name}\ndata: ");
        let start = self.text.find(&head).expect("event present") + head.len();
        let line = self.text[start..].lines().next().expect("data line");
        serde_json::from_str(line).expect("JSON data")
    }
}

async fn post(t: &TestServer, body: Value) -> (u16, Value) {
    let response = t
        .http
        .post(t.http_url("/emulation"))
        .json(&body)
        .send()
        .await
        .expect("emulation answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_raw_sse_client_receives_posts_and_is_told_why_it_ends() {
    let mut t = TestServer::start(RAW_SSE).await;
    let mut stream = Stream::open(t.http.get(t.http_url("/ws/sse"))).await;
    stream.until("\"welcome\"").await;
    assert!(stream.text.starts_with("retry: 2000\nevent: session\n"));
    let session = stream.event("session");
    assert_eq!(session["emulation"], "/emulation");
    let connect = t.next_event(EventType::Connect).await;
    assert_eq!(connect.connection.id, session["connection_id"]);
    let shown = serde_json::to_value(&*connect).unwrap();
    assert_eq!(
        shown["connection"]["transport"], "sse",
        "events say how the client is connected"
    );

    // A JSON value is posted as its text; a string as itself.
    let ids = json!({ "session": session["session"], "node": session["node"] });
    let mut body = ids.clone();
    body["data"] = json!({ "type": "chat", "text": "hi" });
    assert_eq!(post(&t, body).await.0, 204);
    let event = t.next_event(EventType::Message).await;
    assert_eq!(event.message, Some(json!({ "type": "chat", "text": "hi" })));
    let mut body = ids.clone();
    body["data"] = json!("two\nlines");
    assert_eq!(post(&t, body).await.0, 204);
    let event = t.next_event(EventType::Message).await;
    assert_eq!(event.message, Some(json!("two\nlines")));

    // The connection id alone does not let anyone post as this client.
    let forged = json!({ "session": connect.connection.id, "node": session["node"], "data": "x" });
    let (status, error) = post(&t, forged).await;
    assert_eq!(status, 404);
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no such session"));

    // The server API reaches it; a message with line breaks keeps them.
    let connection = connect.connection.id.clone();
    let (status, _) = t
        .api("send", json!({ "connection": connection, "text": "a\nb" }))
        .await;
    assert_eq!(status, 200);
    stream.until("data: a\ndata: b\n\n").await;

    let (status, _) = t
        .api(
            "disconnect",
            json!({ "client": connection, "disconnect": { "code": 4000, "reason": "bye" } }),
        )
        .await;
    assert_eq!(status, 200);
    stream.end().await;
    assert_eq!(
        stream.event("close"),
        json!({ "code": 4000, "reason": "bye" })
    );
    let gone = t.next_event(EventType::Disconnect).await;
    assert_eq!(gone.disconnect.as_ref().unwrap().code, 4000);
    assert_eq!(post(&t, ids.clone()).await.0, 400, "no data");
    let mut late = ids;
    late["data"] = json!("late");
    assert_eq!(
        post(&t, late).await.0,
        404,
        "the session ended with its stream"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_ends_its_connection_at_once() {
    let mut t = TestServer::start(RAW_SSE).await;
    let mut stream = Stream::open(t.http.get(t.http_url("/ws/sse"))).await;
    stream.until("\"welcome\"").await;
    t.next_event(EventType::Connect).await;
    drop(stream);
    let gone = t.next_event(EventType::Disconnect).await;
    let details = gone.disconnect.as_ref().unwrap();
    assert_eq!(
        (details.code, details.reason.as_str()),
        (1006, "stream closed")
    );
    assert_eq!(details.initiator, "network");
}

#[tokio::test]
async fn stream_clients_pass_the_checks_a_websocket_client_does() {
    let t = TestServer::start(
        r#"
[[endpoints]]
path = "/ws"
mode = "raw"
sse_path = "/ws/sse"
allowed_origins = ["https://ok.example"]
max_connections = 1
[endpoints.auth]
mode = "api_key"
sources = ["header", "query"]
[[endpoints.auth.api_keys]]
name = "device"
key = "device-key-0123"
"#,
    )
    .await;
    let url = t.http_url("/ws/sse");
    let response = t.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401, "no credential");
    let response = t
        .http
        .get(&url)
        .header("origin", "https://evil.example")
        .header("x-api-key", "device-key-0123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "origin not allowed");

    // A preflight from an allowed origin, then the stream with CORS headers.
    let preflight = t
        .http
        .request(reqwest::Method::OPTIONS, t.http_url("/emulation"))
        .header("origin", "https://ok.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://ok.example");
    assert_eq!(headers["access-control-allow-headers"], "content-type");
    let keyed = || {
        t.http
            .get(format!("{url}?token=device-key-0123"))
            .header("origin", "https://ok.example")
    };
    let mut first = Stream::open(keyed()).await;
    assert_eq!(
        first.response.headers()["access-control-allow-origin"],
        "https://ok.example"
    );
    first.until("event: session").await;

    // max_connections = 1: the second is told why and ends.
    let mut second = Stream::open(keyed()).await;
    second.end().await;
    assert_eq!(second.event("close")["code"], 1013);
    assert!(!first.text.contains("event: close"));
}

#[tokio::test]
async fn shutdown_tells_every_stream_why_it_ends() {
    let t = TestServer::start(
        r#"
[[endpoints]]
path = "/connection/websocket"
mode = "channels"
http_stream_path = "/connection/http_stream"
sse_path = "/connection/sse"
[[endpoints]]
path = "/ws"
mode = "raw"
sse_path = "/ws/sse"
[channels]
allow_anonymous = true
"#,
    )
    .await;
    let connect = r#"{"id":1,"connect":{}}"#;
    let mut lines = Stream::open(
        t.http
            .post(t.http_url("/connection/http_stream"))
            .body(connect),
    )
    .await;
    lines.until("\"session\"").await;
    let reply: Value = serde_json::from_str(lines.text.lines().next().unwrap()).unwrap();
    assert_eq!(reply["connect"]["node"].as_str().map(str::len), Some(36));
    let mut sse = Stream::open(
        t.http
            .get(t.http_url("/connection/sse"))
            .query(&[("cf_connect", connect)]),
    )
    .await;
    sse.until("data: {\"id\":1,\"connect\"").await;
    let mut raw = Stream::open(t.http.get(t.http_url("/ws/sse"))).await;
    raw.until("event: session").await;

    let server = t.server;
    let shutdown = tokio::spawn(server.shutdown());
    let shutdown_push = r#"{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}"#;
    assert!(lines.end().await.ends_with(&format!("{shutdown_push}\n")));
    assert!(sse
        .end()
        .await
        .ends_with(&format!("data: {shutdown_push}\n\n")));
    raw.end().await;
    assert_eq!(raw.event("close")["code"], 1001);
    tokio::time::timeout(WAIT, shutdown)
        .await
        .expect("shutdown completes")
        .unwrap();
}

#[tokio::test]
async fn stream_requests_that_cannot_start_get_clear_errors() {
    let t = TestServer::start(
        r#"
[[endpoints]]
path = "/connection/websocket"
mode = "channels"
max_message_size = 1024
http_stream_path = "/connection/http_stream"
sse_path = "/connection/sse"
"#,
    )
    .await;
    let status = |r: reqwest::Response| r.status().as_u16();
    let sse = t.http.get(t.http_url("/connection/sse")).send().await;
    assert_eq!(status(sse.unwrap()), 400, "no cf_connect");
    let big = t
        .http
        .post(t.http_url("/connection/http_stream"))
        .body("x".repeat(2000))
        .send()
        .await;
    assert_eq!(status(big.unwrap()), 413);
    let protobuf = t
        .http
        .post(t.http_url("/connection/http_stream"))
        .header("content-type", "application/octet-stream")
        .body("x")
        .send()
        .await;
    assert_eq!(status(protobuf.unwrap()), 415);
    let get = t
        .http
        .get(t.http_url("/connection/http_stream"))
        .send()
        .await;
    let get = get.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
    let body: Value = get.json().await.unwrap();
    assert!(body["error"]["message"].is_string());
}

/// A demo directory with an index page and a stand-in SDK file.
fn demo_dir(with_sdk: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>demos</h1>").unwrap();
    std::fs::write(dir.path().join("chat.js"), "console.log(1)").unwrap();
    if with_sdk {
        let sdk = dir.path().join("node_modules/centrifuge/dist");
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(sdk.join("centrifuge.js"), "var Centrifuge;").unwrap();
    }
    dir
}

#[tokio::test]
async fn the_demo_serves_its_pages_its_config_and_the_sink_events() {
    let dir = demo_dir(true);
    let t = TestServer::start(&format!(
        "[demo]\nenabled = true\ndir = {:?}\n{RAW_SSE}",
        dir.path().display().to_string()
    ))
    .await;
    let get = |path: &str| t.http.get(t.http_url(path)).send();
    let index = get("/demo/").await.unwrap();
    assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(index.text().await.unwrap(), "<h1>demos</h1>");
    let sdk = get("/demo/centrifuge.js").await.unwrap();
    assert_eq!(sdk.text().await.unwrap(), "var Centrifuge;");
    let script = get("/demo/chat.js").await.unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    for path in ["/demo/nope.html", "/demo/..%2FCargo.toml", "/demo/.env"] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path}");
    }
    let config: Value = get("/demo/config.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config,
        json!({
            "channels": null,
            "raw": { "websocket": "/ws", "sse": "/ws/sse" },
            "events": "/demo/events",
        })
    );

    let mut events = Stream::open(t.http.get(t.http_url("/demo/events"))).await;
    let mut second = Stream::open(t.http.get(t.http_url("/demo/events"))).await;
    let _client = t.connect("/ws").await;
    events.until("\"event\":\"connect\"").await;
    second.until("\"event\":\"connect\"").await;
    assert!(events.text.starts_with("data: {"));

    // Three in-process subscribers now (the test's and two pages): one
    // series in /metrics, or Prometheus would refuse the scrape.
    let metrics = t.metrics().await;
    let series = r#"switchboard_sink_events_total{sink="subscriber",outcome="delivered"}"#;
    assert_eq!(metrics.matches(series).count(), 1, "{metrics}");
}

#[tokio::test]
async fn the_demo_does_not_start_without_the_sdk() {
    let dir = demo_dir(false);
    let config = common::config(&format!(
        "[demo]\nenabled = true\ndir = {:?}\n",
        dir.path().display().to_string()
    ));
    let err = switchboard::Server::builder()
        .config(config)
        .start()
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("demo.dir") && text.contains("npm ci"),
        "{text}"
    );
}
