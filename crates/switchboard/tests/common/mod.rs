//! Shared helpers for the integration tests: a real server on an ephemeral
//! port, real WebSocket clients, the server API over real HTTP, and waiting
//! on events (never on sleeps).
#![allow(dead_code)] // each test binary uses its own subset

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use switchboard::protocol::event::{Event, EventType};
use switchboard::{Config, EventStream, RunningServer, Server};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for anything a test waits on; a hang fails instead of blocking CI.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A config from TOML with the listener on 127.0.0.1:0 and the stdout sink off,
/// unless the TOML sets them.
pub fn config(toml: &str) -> Config {
    let mut text = String::from(toml);
    if !text.contains("[server]") {
        text.push_str("\n[server]\nbind = \"127.0.0.1:0\"\n");
    }
    if !text.contains("[sinks.stdout]") {
        text.push_str("\n[sinks.stdout]\nenabled = false\n");
    }
    Config::from_toml_str(&text).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// A running server with an event subscription taken before any client connects.
pub struct TestServer {
    pub server: RunningServer,
    pub events: EventStream,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start(toml: &str) -> Self {
        let server = Server::builder()
            .config(config(toml))
            .start()
            .await
            .expect("server starts");
        let events = server.events(10_000);
        Self {
            server,
            events,
            http: reqwest::Client::new(),
        }
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.server.local_addr(), path)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.server.local_addr(), path)
    }

    pub async fn connect(&self, path: &str) -> Client {
        let (client, _) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(self.ws_url(path)))
                .await
                .expect("connect in time")
                .expect("handshake succeeds");
        client
    }

    /// `POST /api/<method>`: (HTTP status, JSON body).
    pub async fn api(&self, method: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.http_url(&format!("/api/{method}")))
            .json(&body)
            .send()
            .await
            .expect("API reachable");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// The next event of this type (earlier events of other types are skipped).
    pub async fn next_event(&mut self, kind: EventType) -> std::sync::Arc<Event> {
        tokio::time::timeout(WAIT, async {
            loop {
                let event = self.events.recv().await.expect("event stream open");
                if event.event == kind {
                    return event;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {kind:?} event within {WAIT:?}"))
    }
}

/// The next data message (text or binary), skipping control frames.
pub async fn next_message(client: &mut Client) -> Message {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(msg)) => return msg,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    })
    .await
    .expect("message in time")
}

/// Reads until the server closes; returns the close code and reason.
pub async fn expect_close(client: &mut Client) -> (u16, String) {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => return (1005, String::new()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("connection error before close: {e}"),
                None => panic!("connection ended without a close frame"),
            }
        }
    })
    .await
    .expect("close in time")
}

pub async fn send_text(client: &mut Client, text: &str) {
    client.send(Message::text(text)).await.expect("send");
}
