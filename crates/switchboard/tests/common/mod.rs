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

// ---------------------------------------------------------------------------
// Helpers for the ws_* tests: metrics, negative waits, custom handshakes and a
// raw TCP WebSocket client for what tokio-tungstenite cannot send.

impl TestServer {
    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(self.http_url("/metrics"))
            .send()
            .await
            .expect("metrics reachable");
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.expect("metrics body")
    }

    /// Passes when no event of this type arrives within `within` (other
    /// events are skipped). For asserting that something does NOT happen.
    pub async fn no_event(&mut self, kind: EventType, within: Duration) {
        let found = tokio::time::timeout(within, async {
            loop {
                let event = self.events.recv().await.expect("event stream open");
                if event.event == kind {
                    return event;
                }
            }
        })
        .await;
        if let Ok(event) = found {
            panic!("unexpected {kind:?} event: {event:?}");
        }
    }

    /// A WebSocket handshake with extra request headers; also returns the
    /// response headers.
    pub async fn connect_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (Client, Vec<(String, String)>) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url(path).into_client_request().expect("request");
        for (name, value) in headers {
            request
                .headers_mut()
                .append(http_name(name), value.parse().expect("header value"));
        }
        let (client, response) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
                .await
                .expect("connect in time")
                .expect("handshake succeeds");
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        (client, headers)
    }

    /// A raw TCP connection that sent a handshake for `path` with the
    /// standard upgrade headers (unless overridden) plus `headers`.
    pub async fn raw_upgrade(&self, path: &str, headers: &[(&str, &str)]) -> RawClient {
        RawClient::upgrade(self.server.local_addr(), path, headers).await
    }
}

fn http_name(name: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
        .expect("header name")
}

/// The value of one Prometheus series (`name{labels}` exactly as rendered).
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in metrics:\n{text}"))
        .trim()
        .parse()
        .expect("metric value")
}

/// The local port of a tokio-tungstenite client (what the server sees as
/// the peer's port).
pub fn local_port(client: &Client) -> u16 {
    match client.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.local_addr().expect("local addr").port(),
        _ => panic!("plain TCP expected"),
    }
}

/// A header value, by case-insensitive name.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One frame as read from the wire by [`RawClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// Code and reason of a close frame.
    pub fn close(&self) -> (u16, String) {
        assert_eq!(self.opcode, 0x8, "expected a close frame, got {self:?}");
        assert!(self.payload.len() >= 2, "close frame without a code");
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        let reason = String::from_utf8(self.payload[2..].to_vec()).expect("UTF-8 reason");
        (code, reason)
    }
}

/// A hand-written WebSocket client over plain TCP: it sends exactly the
/// bytes a test gives it (unmasked frames, invalid UTF-8, RSV1) and never
/// answers pings by itself.
pub struct RawClient {
    pub stream: tokio::io::BufReader<TcpStream>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The response body when the server refused the upgrade.
    pub body: String,
}

impl RawClient {
    /// Sends `GET path` with the standard upgrade headers, each replaced by
    /// a same-named entry of `headers` (an empty value leaves it out), and
    /// reads the response head (and a refusal's body).
    pub async fn upgrade(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut all: Vec<(&str, &str)> = vec![
            ("Host", "localhost"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        for (name, value) in headers {
            all.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            all.push((name, value));
        }
        let mut request = format!("GET {path} HTTP/1.1\r\n");
        for (name, value) in all.iter().filter(|(_, v)| !v.is_empty()) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");

        tokio::time::timeout(WAIT, async {
            let mut tcp = TcpStream::connect(addr).await.expect("TCP connect");
            tcp.write_all(request.as_bytes())
                .await
                .expect("write request");
            let mut stream = tokio::io::BufReader::new(tcp);
            let mut line = String::new();
            stream.read_line(&mut line).await.expect("status line");
            let status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {line:?}"));
            let mut headers = Vec::new();
            loop {
                line.clear();
                stream.read_line(&mut line).await.expect("header line");
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let (k, v) = trimmed.split_once(':').expect("header");
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            let mut body = String::new();
            if status != 101 {
                let len: usize = header(&headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut raw = vec![0; len];
                stream.read_exact(&mut raw).await.expect("body");
                body = String::from_utf8(raw).expect("UTF-8 body");
            }
            Self {
                stream,
                status,
                headers,
                body,
            }
        })
        .await
        .expect("handshake response in time")
    }

    /// A response header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Writes one frame: masked like a real client unless `masked` is false.
    pub async fn send_frame(
        &mut self,
        fin: bool,
        rsv1: bool,
        opcode: u8,
        payload: &[u8],
        masked: bool,
    ) {
        use tokio::io::AsyncWriteExt;
        let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => out.push(mask_bit | n as u8),
            n if n <= 0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            let key = [0x37, 0xfa, 0x21, 0x3d];
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            out.extend_from_slice(payload);
        }
        self.stream
            .get_mut()
            .write_all(&out)
            .await
            .expect("write frame");
    }

    /// Reads the next frame (any opcode), within [`WAIT`].
    pub async fn read_frame(&mut self) -> RawFrame {
        use tokio::io::AsyncReadExt;
        tokio::time::timeout(WAIT, async {
            let mut head = [0u8; 2];
            self.stream
                .read_exact(&mut head)
                .await
                .expect("frame header");
            assert_eq!(head[1] & 0x80, 0, "server frames must not be masked");
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).await.expect("length");
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).await.expect("length");
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0; len as usize];
            self.stream.read_exact(&mut payload).await.expect("payload");
            RawFrame {
                fin: head[0] & 0x80 != 0,
                rsv1: head[0] & 0x40 != 0,
                opcode: head[0] & 0x0f,
                payload,
            }
        })
        .await
        .expect("frame in time")
    }

    /// Reads frames until a close frame (skipping pings); returns code and reason.
    pub async fn read_close(&mut self) -> (u16, String) {
        loop {
            let frame = self.read_frame().await;
            if frame.opcode == 0x9 {
                continue;
            }
            return frame.close();
        }
    }
}

impl TestServer {
    /// `POST /api/<method>` with a raw body and extra headers: (status, JSON body).
    pub async fn api_raw(
        &self,
        method: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.http_url(&format!("/api/{method}")))
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("API answers in time")
            .expect("API reachable");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }
}

/// The `switchboard` binary as a child process, killed when dropped, with
/// its stdout and stderr read line by line on threads.
pub struct Bin {
    child: std::process::Child,
    stdout: tokio::sync::mpsc::UnboundedReceiver<String>,
    stderr: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// Every stdout line read so far.
    pub stdout_seen: Vec<String>,
    /// Every stderr line read so far.
    pub stderr_seen: Vec<String>,
}

/// How the binary is started.
pub struct BinCommand {
    command: std::process::Command,
}

impl BinCommand {
    /// `switchboard ARGS…` with the test's environment minus every
    /// `SWITCHBOARD_` variable, so the caller's shell cannot leak in.
    pub fn new(args: &[&str]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("SWITCHBOARD_") {
                command.env_remove(name);
            }
        }
        Self { command }
    }

    /// Only `PATH` from the parent environment.
    pub fn clean_env(mut self) -> Self {
        self.command.env_clear();
        if let Ok(path) = std::env::var("PATH") {
            self.command.env("PATH", path);
        }
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn spawn(mut self) -> Bin {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the switchboard binary");
        fn pump(
            pipe: impl std::io::Read + Send + 'static,
        ) -> tokio::sync::mpsc::UnboundedReceiver<String> {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
                // Dropping tx ends the channel: the pipe closed (the process exited).
            });
            rx
        }
        let stdout = pump(child.stdout.take().expect("stdout pipe"));
        let stderr = pump(child.stderr.take().expect("stderr pipe"));
        Bin {
            child,
            stdout,
            stderr,
            stdout_seen: Vec::new(),
            stderr_seen: Vec::new(),
        }
    }

    /// Runs to completion (bounded by [`WAIT`]): (exit code, stdout, stderr).
    pub async fn run(self) -> (i32, String, String) {
        let mut bin = self.spawn();
        let status = bin.wait_exit().await;
        (
            status.code().expect("exited with a code, not a signal"),
            bin.stdout_seen.join("\n"),
            bin.stderr_seen.join("\n"),
        )
    }
}

impl Bin {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line; `None` once stdout has closed.
    pub async fn next_stdout_line(&mut self) -> Option<String> {
        let line = tokio::time::timeout(WAIT, self.stdout.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no stdout line within {WAIT:?}; stderr so far: {:?}",
                    self.stderr_seen
                )
            })?;
        self.stdout_seen.push(line.clone());
        Some(line)
    }

    /// Reads stderr until a line contains `needle`; returns that line.
    pub async fn stderr_line_containing(&mut self, needle: &str) -> String {
        let seen = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.stderr.recv().await {
                self.stderr_seen.push(line.clone());
                if line.contains(needle) {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match seen {
            Ok(Some(line)) => line,
            Ok(None) => panic!("stderr closed without {needle:?}: {:?}", self.stderr_seen),
            Err(_) => panic!(
                "no stderr line with {needle:?} within {WAIT:?}: {:?}",
                self.stderr_seen
            ),
        }
    }

    /// Sends a signal with the `kill` command (e.g. `"-TERM"`).
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Waits (bounded by [`WAIT`]) until both pipes close, i.e. the process
    /// has exited, keeping every remaining line; then reaps it.
    pub async fn wait_exit(&mut self) -> std::process::ExitStatus {
        let drained = tokio::time::timeout(WAIT, async {
            while let Some(line) = self.stdout.recv().await {
                self.stdout_seen.push(line);
            }
            while let Some(line) = self.stderr.recv().await {
                self.stderr_seen.push(line);
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "the process did not exit within {WAIT:?}; stderr: {:?}",
            self.stderr_seen
        );
        // Both pipes are closed, so the process has ended: this returns at once.
        self.child.wait().expect("reap the child")
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config file in a temporary directory (deleted when dropped).
pub fn config_file(toml: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(toml.as_bytes()).expect("write config");
    file
}

/// Reads until the server's close frame, then keeps polling so that
/// tokio-tungstenite sends its close reply and sees the TCP end, then drops
/// the socket as an application does when its stream ends: the server's
/// `disconnect` event follows at once.
pub async fn close_handshake(mut client: Client) -> (u16, String) {
    let client = &mut client;
    let close = expect_close(client).await;
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = client.next().await {}
    })
    .await
    .expect("connection ends after the close handshake");
    close
}

impl RawClient {
    /// Answers the server's close frame with `code` (as a client must),
    /// reads to the end of the server's stream and closes the socket.
    pub async fn answer_close(mut self, code: u16) {
        use tokio::io::AsyncReadExt;
        self.send_frame(true, false, 0x8, &code.to_be_bytes(), true)
            .await;
        tokio::time::timeout(WAIT, async {
            let mut sink = [0u8; 1024];
            while let Ok(n) = self.stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await
        .expect("server ends the connection");
    }
}

/// Like [`expect_close`], then keeps reading so the client's close reply
/// goes out (tungstenite sends it on the next read), until the server ends
/// the TCP connection. Returns the close code and reason.
pub async fn expect_close_handshake(client: &mut Client) -> (u16, String) {
    let close = expect_close(client).await;
    tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = client.next().await {}
    })
    .await
    .expect("connection ends after the close handshake");
    close
}
