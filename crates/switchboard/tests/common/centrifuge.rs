//! A small client for Centrifugo's JSON client protocol (v2), as spoken by
//! `channels` endpoints: commands with automatic ids, replies matched by
//! id, pushes buffered while a reply is awaited, and the server's `{}` ping
//! answered with `{}` whenever the client is reading (unless turned off).
//!
//! Declared from test files with
//! `#[path = "common/centrifuge.rs"] mod centrifuge;` next to `mod common;`.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{Client, TestServer, WAIT};

/// The path of the channels endpoint every channels test configures.
pub const PATH: &str = "/connection/websocket";

/// What a read produced besides protocol lines.
#[derive(Debug)]
pub enum Closed {
    /// A close frame: code and reason.
    Frame(u16, String),
    /// The connection ended without one.
    Ended(String),
}

/// One client connection speaking the protocol.
pub struct Centrifuge {
    pub ws: Client,
    /// The connection id from the connect reply ("" before connect).
    pub client_id: String,
    /// The whole connect reply's result.
    pub connect_result: Value,
    /// Answer the server's `{}` ping with `{}` while reading (default on).
    pub answer_pings: bool,
    /// Server pings seen so far.
    pub pings: usize,
    next_id: u32,
    /// Lines read but not yet looked at (a frame may hold several).
    lines: VecDeque<Value>,
    /// Pushes seen while waiting for something else.
    pushes: VecDeque<Value>,
    /// Replies seen while waiting for another id.
    replies: HashMap<u64, Value>,
}

impl Centrifuge {
    /// Opens the WebSocket without sending `connect`.
    pub async fn open(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("handshake succeeds");
        Self {
            ws,
            client_id: String::new(),
            connect_result: Value::Null,
            answer_pings: true,
            pings: 0,
            next_id: 0,
            lines: VecDeque::new(),
            pushes: VecDeque::new(),
            replies: HashMap::new(),
        }
    }

    /// Opens the WebSocket and connects (anonymously); panics unless the
    /// server accepts.
    pub async fn connect(url: &str) -> Self {
        let mut client = Self::open(url).await;
        let result = client.call("connect", json!({})).await;
        client.client_id = result["client"]
            .as_str()
            .unwrap_or_else(|| panic!("connect result without client: {result}"))
            .to_owned();
        client.connect_result = result;
        client
    }

    /// The next command id.
    pub fn alloc_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends one text frame as is.
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .await
            .expect("send text frame");
    }

    /// Sends a frame of raw bytes as a binary message.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::binary(bytes.to_vec()))
            .await
            .expect("send binary frame");
    }

    /// The command line `{"id":N,"<method>":params}` with a fresh id.
    pub fn command_line(&mut self, method: &str, params: Value) -> (u32, String) {
        let id = self.alloc_id();
        let mut command = serde_json::Map::new();
        command.insert("id".into(), json!(id));
        command.insert(method.into(), params);
        (id, Value::Object(command).to_string())
    }

    /// Sends a command and returns its whole reply (`{"id", "<method>"|"error"}`).
    pub async fn command(&mut self, method: &str, params: Value) -> Value {
        let (id, line) = self.command_line(method, params);
        self.send_text(&line).await;
        self.reply(id).await
    }

    /// Sends a command that must succeed; returns its result.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let reply = self.command(method, params).await;
        assert!(reply.get("error").is_none(), "{method} failed: {reply}");
        reply
            .get(method)
            .cloned()
            .unwrap_or_else(|| panic!("reply to {method} without a result: {reply}"))
    }

    /// Sends a command that must fail; returns the error code.
    pub async fn error_code(&mut self, method: &str, params: Value) -> u64 {
        let reply = self.command(method, params).await;
        reply["error"]["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("{method} should fail, got {reply}"))
    }

    /// Subscribes (must succeed); returns the subscribe result.
    pub async fn subscribe(&mut self, channel: &str) -> Value {
        self.call("subscribe", json!({ "channel": channel })).await
    }

    /// Publishes as this client (must succeed).
    pub async fn publish(&mut self, channel: &str, data: Value) {
        self.call("publish", json!({ "channel": channel, "data": data }))
            .await;
    }

    /// The reply to command `id`, buffering pushes and other replies meanwhile.
    pub async fn reply(&mut self, id: u32) -> Value {
        let id = u64::from(id);
        if let Some(reply) = self.replies.remove(&id) {
            return reply;
        }
        loop {
            let line = self.next_line().await;
            match line.get("id").and_then(Value::as_u64) {
                Some(got) if got == id => return line,
                Some(got) => {
                    self.replies.insert(got, line);
                }
                None => self.pushes.push_back(line),
            }
        }
    }

    /// The next push (`{"push": …}` unwrapped to its body), within [`WAIT`].
    pub async fn next_push(&mut self) -> Value {
        loop {
            if let Some(push) = self.pushes.pop_front() {
                return unwrap_push(push);
            }
            let line = self.next_line().await;
            match line.get("id").and_then(Value::as_u64) {
                Some(id) if id != 0 => {
                    self.replies.insert(id, line);
                }
                _ => self.pushes.push_back(line),
            }
        }
    }

    /// The next publication push in `channel` (other pushes are skipped):
    /// the `pub` object.
    pub async fn next_publication(&mut self, channel: &str) -> Value {
        loop {
            let push = self.next_push().await;
            if push["channel"] == channel {
                if let Some(publication) = push.get("pub") {
                    return publication.clone();
                }
            }
        }
    }

    /// Reads (answering pings as configured) until the server has sent
    /// `n` pings in total; lines read meanwhile are kept.
    pub async fn wait_pings(&mut self, n: usize) {
        tokio::time::timeout(WAIT, async {
            while self.pings < n {
                if let Err(closed) = self.read_frame().await {
                    panic!("connection closed while waiting for pings: {closed:?}");
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} pings not seen within {WAIT:?}"));
    }

    /// Reads until the server closes the connection, completes the close
    /// handshake and returns the close code and reason. Lines read
    /// meanwhile are kept.
    pub async fn expect_close(&mut self) -> (u16, String) {
        let closed = tokio::time::timeout(WAIT, async {
            loop {
                match self.read_frame().await {
                    Ok(()) => continue,
                    Err(closed) => return closed,
                }
            }
        })
        .await
        .expect("server closes in time");
        match closed {
            Closed::Frame(code, reason) => {
                // Keep polling so tungstenite sends its close reply, until the
                // server ends the TCP connection: the server's session ends
                // now rather than after its close timeout.
                tokio::time::timeout(WAIT, async {
                    while let Some(Ok(_)) = self.ws.next().await {}
                })
                .await
                .expect("connection ends after the close handshake");
                (code, reason)
            }
            Closed::Ended(why) => panic!("connection ended without a close frame: {why}"),
        }
    }

    /// The next protocol line (a reply or a push); server pings are
    /// counted (and answered when `answer_pings`) and not returned.
    async fn next_line(&mut self) -> Value {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(line) = self.lines.pop_front() {
                    return line;
                }
                if let Err(closed) = self.read_frame().await {
                    panic!("connection closed while reading: {closed:?}");
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("nothing from the server within {WAIT:?}"))
    }

    /// Reads one WebSocket frame into `lines`.
    async fn read_frame(&mut self) -> Result<(), Closed> {
        match self.ws.next().await {
            Some(Ok(Message::Text(text))) => {
                for line in text.split('\n').filter(|l| !l.trim().is_empty()) {
                    let value: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("server sent non-JSON {line:?}: {e}"));
                    if value.as_object().is_some_and(|o| o.is_empty()) {
                        self.pings += 1;
                        if self.answer_pings {
                            self.ws
                                .send(Message::text("{}"))
                                .await
                                .map_err(|e| Closed::Ended(e.to_string()))?;
                        }
                        continue;
                    }
                    self.lines.push_back(value);
                }
                Ok(())
            }
            Some(Ok(Message::Close(Some(frame)))) => Err(Closed::Frame(
                u16::from(frame.code),
                frame.reason.to_string(),
            )),
            Some(Ok(Message::Close(None))) => Err(Closed::Frame(1005, String::new())),
            Some(Ok(Message::Binary(bytes))) => panic!("unexpected binary frame {bytes:?}"),
            Some(Ok(_)) => Ok(()), // control frames
            Some(Err(e)) => Err(Closed::Ended(e.to_string())),
            None => Err(Closed::Ended("end of stream".into())),
        }
    }

    /// Whether a push is already buffered (for assertions that nothing
    /// else arrived before a marker).
    pub fn buffered_pushes(&self) -> usize {
        self.pushes.len()
    }
}

/// `{"push": body}` → `body`.
fn unwrap_push(line: Value) -> Value {
    match line {
        Value::Object(mut map) if map.contains_key("push") => {
            map.remove("push").unwrap_or_default()
        }
        other => panic!("expected a push, got {other}"),
    }
}

/// The offsets of publication objects.
pub fn offsets(publications: &[Value]) -> Vec<u64> {
    publications
        .iter()
        .map(|p| {
            p["offset"]
                .as_u64()
                .unwrap_or_else(|| panic!("publication without offset: {p}"))
        })
        .collect()
}

/// The `publications` array of a result (absent means empty).
pub fn publications(result: &Value) -> Vec<Value> {
    result["publications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A config for one channels endpoint at [`PATH`] plus `rest` (a
/// `[channels]` table, namespaces, …).
pub fn channels_toml(rest: &str) -> String {
    format!("[[endpoints]]\npath = \"{PATH}\"\nmode = \"channels\"\n\n{rest}\n")
}

/// Polls `check` every 20 ms until it returns true, within [`WAIT`].
/// For state that changes after a socket closes, which no frame announces.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes through the server API; returns the result object.
pub async fn api_publish(server: &TestServer, channel: &str, data: Value) -> Value {
    let (status, body) = server
        .api("publish", json!({ "channel": channel, "data": data }))
        .await;
    assert_eq!(status, 200, "{body}");
    body.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("publish failed: {body}"))
}

/// The `channels.token_hmac_secret` of the tests that connect as a user.
pub const TOKEN_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Opens a channels connection and connects as `user` with a token signed
/// by [`TOKEN_SECRET`].
pub async fn connect_as(server: &TestServer, user: &str) -> Centrifuge {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": user, "exp": switchboard_auth::unix_now() + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(TOKEN_SECRET.as_bytes()),
    )
    .expect("a token");
    let mut client = Centrifuge::open(&server.ws_url(PATH)).await;
    let result = client.call("connect", json!({ "token": token })).await;
    client.client_id = result["client"].as_str().expect("connected").to_owned();
    client
}

/// The `[broker]` table of a node on the `redis-server` at `url`; nodes
/// with the same `prefix` form one system.
pub fn redis_broker_toml(url: &str, prefix: &str) -> String {
    format!("[broker]\nkind = \"redis\"\nurl = \"{url}\"\nprefix = \"{prefix}\"\n")
}
