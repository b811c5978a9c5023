//! A real HTTP webhook target for the sink tests: records every request
//! and answers as the test scripts it (status codes, slowness, bodies).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::WAIT;

/// How the target answers one request.
#[derive(Clone, Debug)]
pub enum Plan {
    /// 200 with `{"reply": {"echo": <message>}}` per event (an array for batches).
    Echo,
    /// 200 with an empty body.
    Ok,
    /// This status, empty body.
    Status(u16),
    /// Waits this long, then answers like `Echo`.
    Slow(Duration),
    /// 200 with this body.
    Json(Value),
    /// 503 with `Retry-After: <seconds>`.
    RetryAfter(u64),
}

/// One request the target received.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: Instant,
    pub headers: HeaderMap,
    /// The bytes as sent (what the signature covers).
    pub raw: Bytes,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The events in the body (one, or a batch).
    pub fn events(&self) -> Vec<Value> {
        match &self.body {
            Value::Array(items) => items.clone(),
            one => vec![one.clone()],
        }
    }
}

#[derive(Default)]
struct Script {
    next: VecDeque<Plan>,
    then: Option<Plan>,
    received: Vec<Received>,
}

/// The target; stops when dropped.
pub struct HookTarget {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HookTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl HookTarget {
    /// Listens on `port` (0: any); answers `first` in order, then `then`.
    pub async fn start(port: u16, first: Vec<Plan>, then: Plan) -> HookTarget {
        let script = Arc::new(Mutex::new(Script {
            next: first.into(),
            then: Some(then),
            received: Vec::new(),
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the hook target");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(answer))
            .with_state(script.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HookTarget { addr, script, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// From now on, answer with `plan`.
    pub fn answer_with(&self, plan: Plan) {
        let mut script = self.script.lock().unwrap();
        script.next.clear();
        script.then = Some(plan);
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Every event received, in order, across requests.
    pub fn events(&self) -> Vec<Value> {
        self.received().iter().flat_map(Received::events).collect()
    }

    /// Waits until `n` events have arrived; returns them.
    pub async fn wait_events(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            let events = self.events();
            if events.len() >= n {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} events reached the target",
                events.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = body;
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let plan = {
        let mut script = script.lock().unwrap();
        script.received.push(Received {
            at: Instant::now(),
            headers,
            raw,
            body: body.clone(),
        });
        let then = script.then.clone().unwrap_or(Plan::Ok);
        script.next.pop_front().unwrap_or(then)
    };
    match plan {
        Plan::Echo => echo(&body).into_response(),
        Plan::Ok => StatusCode::OK.into_response(),
        Plan::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Plan::Json(body) => axum::Json(body).into_response(),
        Plan::RetryAfter(seconds) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", seconds.to_string())],
        )
            .into_response(),
        Plan::Slow(wait) => {
            tokio::time::sleep(wait).await;
            echo(&body).into_response()
        }
    }
}

fn echo(body: &Value) -> axum::Json<Value> {
    let one = |event: &Value| json!({"reply": {"echo": event["message"]}});
    axum::Json(match body {
        Value::Array(events) => Value::Array(events.iter().map(one).collect()),
        event => one(event),
    })
}
