//! The configuration structs and their defaults.
//!
//! Every struct is `#[serde(deny_unknown_fields, default)]`: a missing key
//! takes its default, and an unknown key (a typo) is an error rather than
//! being silently ignored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::auth::{ApiKey, AuthConfig, EndpointAuth, EndpointLimits};
use crate::broker::BrokerConfig;
use crate::channels::ChannelsConfig;
use crate::sinks::SinksConfig;

/// One mebibyte, the unit most size defaults are expressed in.
const MIB: usize = 1024 * 1024;

/// The welcome template used when `welcome_message` is not set.
///
/// It is JSON so that clients can parse it like any other event; the
/// placeholders are filled in (JSON-escaped) by [`crate::render_welcome`].
pub const DEFAULT_WELCOME_MESSAGE: &str = r#"{"type":"welcome","connection_id":"{connection_id}","endpoint":"{endpoint}","timestamp":"{timestamp}"}"#;

/// The whole configuration: the single source of truth for the server.
///
/// Build it with [`Config::load`] (defaults < file < environment < CLI),
/// [`Config::from_toml_str`], or by hand followed by [`Config::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener and shutdown behaviour (`[server]`).
    pub server: ServerConfig,
    /// The HTTP management API (`[api]`).
    pub api: ApiConfig,
    /// WebSocket endpoints (`[[endpoints]]`). Default: a single `/ws`
    /// endpoint in `raw` mode with the welcome message on. Must not be empty.
    pub endpoints: Vec<EndpointConfig>,
    /// Where received events go (`[sinks]`).
    pub sinks: SinksConfig,
    /// The backend asked on connect, subscribe, publish and RPC (`[proxy]`).
    pub proxy: crate::ProxyConfig,
    /// Logging (`[log]`).
    pub log: LogConfig,
    /// The channels mode: limits, pings and namespaces (`[channels]`). Used
    /// by endpoints with `mode = "channels"`.
    pub channels: ChannelsConfig,
    /// Where channels' publications, history and presence live (`[broker]`).
    pub broker: BrokerConfig,
    /// How tokens are verified (`[auth]`).
    pub auth: AuthConfig,
    /// The demo pages under `/demo/` (`[demo]`).
    pub demo: DemoConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            api: ApiConfig::default(),
            endpoints: vec![EndpointConfig {
                // A fresh install should show a visible sign of life on connect.
                welcome: true,
                ..EndpointConfig::default()
            }],
            sinks: SinksConfig::default(),
            proxy: crate::ProxyConfig::default(),
            log: LogConfig::default(),
            channels: ChannelsConfig::default(),
            broker: BrokerConfig::default(),
            auth: AuthConfig::default(),
            demo: DemoConfig::default(),
        }
    }
}

/// `[demo]`: the demo pages (chat, cursors, ticker, raw console).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Serve the pages of `dir` under `/demo/`, with `/demo/config.json`
    /// and `/demo/events` (every sink event as Server-Sent Events, so
    /// anyone who can reach the server sees every message: local use
    /// only). Default false.
    pub enabled: bool,
    /// The directory with the pages; the `centrifuge` SDK is served from
    /// its `node_modules/centrifuge/dist/centrifuge.js` (`npm ci --prefix
    /// demo` installs it). Default `demo`.
    pub dir: PathBuf,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            enabled: false,
            dir: PathBuf::from("demo"),
        }
    }
}

/// `[server]`: the listener and shutdown behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on. Default `0.0.0.0:8080`.
    pub bind: SocketAddr,
    /// Peers whose `X-Forwarded-For` header is believed. Default empty, so
    /// the header is ignored: otherwise any client could forge its address.
    /// Entries are networks (`10.0.0.0/8`) or single addresses (`10.0.0.1`).
    #[serde(with = "crate::nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// Text message sent to every client just before the close frame (code
    /// 1001, going away) at shutdown. Default none: close without a notice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_notice: Option<String>,
    /// How long shutdown waits for clients to close before dropping them
    /// (TOML `drain_timeout_ms`, milliseconds). Default 10 s.
    #[serde(rename = "drain_timeout_ms", with = "crate::duration::millis")]
    pub drain_timeout: Duration,
    /// How long a client may take to complete the TLS handshake and send
    /// its request headers (TOML `handshake_timeout_ms`). Default 10 s.
    /// From 1 s to 120 s. Stops slowloris clients from holding sockets.
    #[serde(rename = "handshake_timeout_ms", with = "crate::duration::millis")]
    pub handshake_timeout: Duration,
    /// Largest request head (request line and headers) accepted, in bytes;
    /// a larger one is answered 431. Default 16384. From 8192 to 1048576.
    pub max_header_bytes: usize,
    /// `[server.tls]`: serve HTTPS and WSS on `bind` with these files.
    /// Default none: plain HTTP and WS (terminate TLS at a proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Where clients of the SSE and HTTP-streaming transports POST what
    /// they send (Centrifugo's bidirectional emulation endpoint). Served
    /// when any endpoint has an `sse_path` or `http_stream_path`. Default
    /// `/emulation`, the path the `centrifuge` SDK posts to by default.
    pub emulation_path: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080),
            trusted_proxies: Vec::new(),
            shutdown_notice: None,
            drain_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            tls: None,
            emulation_path: "/emulation".to_string(),
        }
    }
}

/// `[server.tls]`: TLS termination in Switchboard.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first. Required. Read
    /// again on SIGHUP.
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1). Required.
    /// Read again on SIGHUP.
    pub key_file: PathBuf,
}

/// `[api]`: the HTTP management API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Shared secret clients send as `X-API-Key`. Default empty, in which
    /// case the API answers only loopback peers, so an unconfigured server
    /// is never open to the network. Printable ASCII, no spaces.
    pub key: String,
    /// Largest accepted request body, in bytes. Default 1 MiB; bounds the
    /// memory one request can make the server hold. Must be at least 1.
    pub max_body_size: usize,
    /// `[[api.keys]]`: more keys, each with a holder and a scope (`read`,
    /// `publish`, `admin`), in clear or as a SHA-256. `key` above is an
    /// `admin` key. Default none.
    pub keys: Vec<ApiKey>,
    /// A `send` to a `reply_to` that reaches no connection is kept for the
    /// handle's user, at most this many per user, and delivered when the
    /// user connects again (on any node with the Redis broker). Default
    /// 100; 0: not kept. At most 10 000.
    pub reply_hold_size: usize,
    /// How long such a reply is kept (TOML `reply_hold_ttl_ms`). Default 1 h.
    #[serde(rename = "reply_hold_ttl_ms", with = "crate::duration::millis")]
    pub reply_hold_ttl: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            key: String::new(),
            max_body_size: MIB,
            keys: Vec::new(),
            reply_hold_size: 100,
            reply_hold_ttl: Duration::from_secs(3600),
        }
    }
}

/// What an endpoint does with the messages its clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Forward each message to the sinks unchanged.
    #[default]
    Raw,
    /// Send each message back to the client that sent it.
    Echo,
    /// Speak the Centrifugo-compatible channels protocol (JSON): clients
    /// subscribe to channels and publish to them, as `[channels]`
    /// configures.
    Channels,
}

/// Who sends keep-alive pings on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatMode {
    /// No heartbeat: dead peers are found only by TCP or `idle_timeout_ms`.
    #[default]
    None,
    /// The server pings every interval and expects a pong within timeout.
    Send,
    /// The client must ping at least every interval (plus timeout of grace).
    Expect,
}

/// permessage-deflate (RFC 7692) policy of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Never negotiate compression.
    #[default]
    Disabled,
    /// Negotiate it with `server_no_context_takeover`: one compressed form
    /// of a message is valid for every connection, and no state is kept
    /// while idle. Less memory, worse ratio.
    Shared,
    /// Negotiate it with context kept across messages as the client asks:
    /// better ratio, more memory per connection.
    Dedicated,
}

/// What happens when a connection's outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// Close the slow connection (code 1008), so it knows it lost data.
    #[default]
    Close,
    /// Drop the message and keep the connection.
    Drop,
}

/// How message data is framed, in the events an endpoint writes to the
/// sinks and in data the server sends to its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// The data as is.
    #[default]
    Payload,
    /// Wrapped in a JSON object (`{"payload": …}`).
    Envelope,
}

/// `[endpoints.heartbeat]`: keep-alive pings for one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeartbeatConfig {
    /// Who pings. Default `none`.
    pub mode: HeartbeatMode,
    /// Time between pings (TOML `interval_ms`, milliseconds). Default 30 s.
    /// At least 10 ms when mode is not `none`, so timers cannot spin.
    #[serde(rename = "interval_ms", with = "crate::duration::millis")]
    pub interval: Duration,
    /// How long to wait for the pong (`send`) or the extra grace after a
    /// missed ping (`expect`) (TOML `timeout_ms`, milliseconds). Default
    /// 10 s. At least 10 ms; for `send` it must be below `interval_ms`.
    #[serde(rename = "timeout_ms", with = "crate::duration::millis")]
    pub timeout: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            mode: HeartbeatMode::None,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `[endpoints.deflate]`: permessage-deflate parameters, used when
/// `compression` is not `disabled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeflateConfig {
    /// Largest LZ77 window the server compresses with, as a power of two.
    /// Default 15 (32 KiB). Range 9..=15: RFC 7692 allows 8, but zlib cannot
    /// produce an 8-bit raw deflate stream.
    pub server_max_window_bits: u8,
    /// Largest window the client may compress with. Default 15. Range 9..=15
    /// for the same reason; a smaller value saves server memory on inflate.
    pub client_max_window_bits: u8,
    /// zlib compression level. Default 1 (fastest; most of the gain on
    /// typical JSON). Range 0..=9.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed, because
    /// deflate overhead outweighs the gain. Default 64.
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 64,
        }
    }
}

/// `[[endpoints]]`: one WebSocket endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointConfig {
    /// URL path clients connect to. Required in a file. Must start with `/`,
    /// use only `A-Za-z0-9-._~/`, be unique, and not be `/api` (or under
    /// `/api/`), `/healthz`, `/readyz` or `/metrics`, which the server owns.
    pub path: String,
    /// What the endpoint does with messages. Default `raw`.
    pub mode: Mode,
    /// Most simultaneous connections; further clients are closed with 1013
    /// (try again later). Default 10 000. At least 1. Bounds memory and file
    /// descriptors.
    pub max_connections: usize,
    /// Largest message accepted from a client, in bytes (after
    /// reassembly and decompression). Default 1 MiB. Range 125 (the largest
    /// control frame) ..= 256 MiB, because a message is held in memory whole.
    pub max_message_size: usize,
    /// Close (code 1001) a connection whose client sent no data message for
    /// this long (TOML `idle_timeout_ms`, milliseconds; 0 or absent =
    /// disabled). Pings do not count, so it catches clients that are alive
    /// but unused.
    /// Default disabled.
    #[serde(rename = "idle_timeout_ms", with = "crate::duration::opt_millis")]
    pub idle_timeout: Option<Duration>,
    /// Close every connection after this long, whatever it is doing, so
    /// clients reconnect and load spreads after a deploy (TOML
    /// `max_lifetime_ms`, milliseconds; 0 or absent = disabled). Default
    /// disabled.
    #[serde(rename = "max_lifetime_ms", with = "crate::duration::opt_millis")]
    pub max_lifetime: Option<Duration>,
    /// Keep-alive pings (`[endpoints.heartbeat]`).
    pub heartbeat: HeartbeatConfig,
    /// Send `welcome_message` to each client right after the upgrade.
    /// Default false (the built-in default endpoint turns it on).
    pub welcome: bool,
    /// Template of the welcome message. Placeholders: `{connection_id}`,
    /// `{endpoint}`, `{timestamp}`, `{remote_addr}`; any other `{name}` is
    /// rejected so a typo is not sent to clients. Default
    /// [`DEFAULT_WELCOME_MESSAGE`].
    pub welcome_message: String,
    /// permessage-deflate policy. Default `disabled`.
    pub compression: Compression,
    /// permessage-deflate parameters (`[endpoints.deflate]`).
    pub deflate: DeflateConfig,
    /// Bytes that may wait in one connection's send queue before
    /// `overflow` applies. Default 4 MiB. At least 1024. Bounds the memory a
    /// slow client can pin.
    pub outbound_queue_bytes: usize,
    /// What to do when the send queue is full. Default `close`.
    pub overflow: OverflowPolicy,
    /// Hold a connection's outgoing messages up to this long and write
    /// them together in one system call (TOML `write_delay_ms`; 0 or
    /// absent = off, each message is written at once). Trades up to this
    /// much latency for less CPU per message under fan-out. At most 1000.
    #[serde(rename = "write_delay_ms", with = "crate::duration::opt_millis")]
    pub write_delay: Option<Duration>,
    /// How message data is framed. Default `payload`.
    pub format: EventFormat,
    /// Browser origins allowed to connect, each `*` or
    /// `scheme://host[:port]` (no path, no trailing slash; compared ignoring
    /// case). Default empty: any origin. Requests without an `Origin` header
    /// (non-browser clients) are not restricted.
    pub allowed_origins: Vec<String>,
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, each an HTTP token.
    /// Default empty: none negotiated.
    pub subprotocols: Vec<String>,
    /// Who may connect (`[endpoints.auth]`). Default: anyone.
    pub auth: EndpointAuth,
    /// Abuse limits (`[endpoints.limits]`). Default: none beyond
    /// `max_connections` and `max_message_size`.
    pub limits: EndpointLimits,
    /// A JSON Schema file that every inbound message must satisfy before
    /// it becomes an event; read at start. Default empty: no schema.
    pub message_schema_file: String,
    /// Raw clients may ask for receipts: a JSON object message with a
    /// string `receipt` field gets `accepted` (and `done`, `failed`)
    /// messages back as sinks deliver it. Default false.
    pub receipts: bool,
    /// Also accept Server-Sent Events clients at this path: the
    /// `centrifuge` SDK's `sse` transport on channels endpoints, a plain
    /// `EventSource` on raw and echo endpoints; what such clients send
    /// goes by POST to `server.emulation_path`. Default empty: off.
    pub sse_path: String,
    /// Also accept the `centrifuge` SDK's `http_stream` transport at this
    /// path (channels endpoints only). Default empty: off.
    pub http_stream_path: String,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            path: "/ws".to_string(),
            mode: Mode::Raw,
            max_connections: 10_000,
            max_message_size: MIB,
            idle_timeout: None,
            max_lifetime: None,
            heartbeat: HeartbeatConfig::default(),
            welcome: false,
            welcome_message: DEFAULT_WELCOME_MESSAGE.to_string(),
            compression: Compression::Disabled,
            deflate: DeflateConfig::default(),
            outbound_queue_bytes: 4 * MIB,
            overflow: OverflowPolicy::Close,
            write_delay: None,
            format: EventFormat::Payload,
            allowed_origins: Vec::new(),
            subprotocols: Vec::new(),
            auth: EndpointAuth::default(),
            limits: EndpointLimits::default(),
            message_schema_file: String::new(),
            receipts: false,
            sse_path: String::new(),
            http_stream_path: String::new(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[log]`: logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Filter: a level (`trace`, `debug`, `info`, `warn`, `error`, `off`)
    /// or a comma list of levels and `target=level` directives, e.g.
    /// `info,switchboard_hub=debug`. Default `info`.
    pub level: String,
    /// Line format. Default `text`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// Values given as command-line flags; they override everything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliOverrides {
    /// `--bind ADDR:PORT`: overrides `server.bind`.
    pub bind: Option<SocketAddr>,
}
