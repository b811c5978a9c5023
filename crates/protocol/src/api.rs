//! Server API shapes: `POST /api/<method>` with a JSON body, answered
//! `{"result": …}` or `{"error": {"code", "message"}}` — the style of
//! Centrifugo's HTTP API, so its server SDKs (e.g. `cent`) can talk to us.
//! Where a method exists in Centrifugo (`info`, `disconnect`) the request
//! shape is its own and the result a superset of its own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::ConnectionInfo;

/// An API error, in Centrifugo's `{code, message}` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct ApiError {
    /// Numeric code; the values follow Centrifugo's server API errors.
    pub code: u32,
    /// Human-readable message.
    pub message: String,
}

/// Error codes (Centrifugo's numbering).
pub mod code {
    /// Internal server error.
    pub const INTERNAL: u32 = 100;
    /// Missing or wrong API key, or a non-loopback caller without a key configured.
    pub const UNAUTHORIZED: u32 = 101;
    /// The key's scope does not cover the method.
    pub const PERMISSION_DENIED: u32 = 103;
    /// No such API method.
    pub const METHOD_NOT_FOUND: u32 = 104;
    /// A limit was exceeded (request body too large).
    pub const LIMIT_EXCEEDED: u32 = 106;
    /// Malformed JSON or invalid parameters.
    pub const BAD_REQUEST: u32 = 107;
    /// The server is shutting down.
    pub const NOT_AVAILABLE: u32 = 108;
    /// Too many requests (connections from one address).
    pub const TOO_MANY_REQUESTS: u32 = 111;
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `107 bad request` with a message saying what is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(code::BAD_REQUEST, message)
    }
}

/// The response envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T> {
    /// The method succeeded.
    Result(T),
    /// The method failed.
    Error(ApiError),
}

/// `info`: one entry per node, as Centrifugo returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node id, unique per process start.
    pub uid: String,
    /// Node name: the address the node is bound to.
    pub name: String,
    /// Server version.
    pub version: String,
    /// Connected clients.
    pub num_clients: u64,
    /// Distinct authenticated users.
    pub num_users: u64,
    /// Channels with subscribers on this node.
    pub num_channels: u64,
    /// Seconds since start.
    pub uptime: u64,
    /// Channel subscriptions on this node.
    pub num_subs: u64,
}

/// `info`: heartbeat settings of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatInfo {
    /// `none`, `send` or `expect`.
    pub mode: String,
    /// Interval in milliseconds.
    pub interval_ms: u64,
    /// Timeout in milliseconds.
    pub timeout_ms: u64,
}

/// `info`: one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Path, e.g. `/ws`.
    pub path: String,
    /// `ws://HOST:PORT/PATH` as reachable on the bound address.
    pub url: String,
    /// `raw`, `echo` or `channels`.
    pub mode: String,
    /// Open connections.
    pub active_connections: u64,
    /// The endpoint's `max_connections`.
    pub max_connections: u64,
    /// Heartbeat settings.
    pub heartbeat: HeartbeatInfo,
    /// `disabled`, `shared` or `dedicated`.
    pub compression: String,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections refused since start (capacity, draining).
    pub rejected: u64,
    /// Connections closed since start.
    pub closed: u64,
}

/// `info` result: Centrifugo's `nodes` plus Switchboard's endpoint view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoResult {
    /// Every node (one until clustering).
    pub nodes: Vec<NodeInfo>,
    /// Server version.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Endpoints with their live figures.
    pub endpoints: Vec<EndpointInfo>,
}

/// `connections` request: a page of open connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsRequest {
    /// Only this endpoint path.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Only this user.
    #[serde(default)]
    pub user: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// `connections` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionsResult {
    /// This page, ordered by id.
    pub connections: Vec<ConnectionInfo>,
    /// Connections matching the filter in all pages.
    pub total: usize,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `send` request: a message to one connection, a list, an endpoint's
/// connections, a user's connections, or all. Exactly one target and one
/// payload field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// One connection id.
    #[serde(default)]
    pub connection: Option<String>,
    /// A list of connection ids.
    #[serde(default)]
    pub connections: Option<Vec<String>>,
    /// Every connection of this endpoint path.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Every connection of this user.
    #[serde(default)]
    pub user: Option<String>,
    /// Every connection.
    #[serde(default)]
    pub all: Option<bool>,
    /// An event's `reply_to` handle: its connection, or when that is gone,
    /// its user's connections.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// JSON data, sent as a text frame (wrapped as `{"payload": …}` on envelope endpoints).
    #[serde(default)]
    pub data: Option<Value>,
    /// Text, sent as is in a text frame.
    #[serde(default)]
    pub text: Option<String>,
    /// Base64 bytes, sent in a binary frame.
    #[serde(default)]
    pub binary: Option<String>,
    /// Connection ids to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// `send` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    /// Connections the message was queued to.
    pub delivered: u64,
    /// Connections whose queue was full (dropped, or closed as slow consumers).
    pub dropped: u64,
}

/// `disconnect` payload: the close code and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectSpec {
    /// 1000 or 3000–4999.
    pub code: u16,
    /// At most 123 bytes are sent.
    #[serde(default)]
    pub reason: String,
}

/// `disconnect` request: Centrifugo's shape (`user`, `client`, `whitelist`,
/// `disconnect`), plus `connection` as another name for `client`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// Every connection of this user.
    #[serde(default)]
    pub user: Option<String>,
    /// One connection id.
    #[serde(default, alias = "connection")]
    pub client: Option<String>,
    /// Centrifugo's session id; connections have no separate session here, so it is a connection id too.
    #[serde(default)]
    pub session: Option<String>,
    /// Connection ids to keep.
    #[serde(default)]
    pub whitelist: Vec<String>,
    /// Code and reason (default 1000 "disconnected by server").
    #[serde(default)]
    pub disconnect: Option<DisconnectSpec>,
}

/// `revoke_token` request (Centrifugo PRO's shape): refuse a token id
/// (`jti`) from now until `expire_at`, and disconnect its holders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenRequest {
    /// The token id (`jti`). Required.
    #[serde(default)]
    pub uid: String,
    /// Until when (Unix seconds) the id is refused; give the token's `exp`.
    /// Default (0): 24 hours from now.
    #[serde(default)]
    pub expire_at: u64,
}

/// `revoke_token` result: connections closed (summed over nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeTokenResult {
    /// Connections that held the token and were closed.
    pub disconnected: u64,
}

/// `disconnect` result (Centrifugo returns `{}`; the count is ours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectResult {
    /// Connections told to close.
    pub disconnected: u64,
}

/// A stream position in API requests and results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPositionParam {
    /// Offset.
    #[serde(default)]
    pub offset: u64,
    /// Epoch.
    #[serde(default)]
    pub epoch: String,
}

/// `publish` request (Centrifugo's shape).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The channel.
    pub channel: String,
    /// The payload (any JSON, `null` included; absent is `None`).
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Value>,
    /// Do not keep this publication in history.
    #[serde(default)]
    pub skip_history: Option<bool>,
    /// Tags delivered with the publication.
    #[serde(default)]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// Binary payload as base64 (needs the Protobuf protocol: refused).
    #[serde(default)]
    pub b64data: Option<String>,
    /// Deduplication key (not supported: refused rather than ignored).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `publish` result: where the publication went in the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResult {
    /// Its offset (absent without history).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u64,
    /// The stream's epoch (absent without history).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub epoch: String,
}

/// A field that is present: `Some`, even for `null` (which a plain
/// `Option<Value>` would read as absent). A client may publish `null`, so
/// the API may as well.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `broadcast` request: one payload into many channels.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    /// The channels.
    pub channels: Vec<String>,
    /// The payload (any JSON, `null` included; absent is `None`).
    #[serde(default, deserialize_with = "present")]
    pub data: Option<Value>,
    /// Do not keep it in history.
    #[serde(default)]
    pub skip_history: Option<bool>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
    /// Refused, as for `publish`.
    #[serde(default)]
    pub b64data: Option<String>,
    /// Refused, as for `publish`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `broadcast` result: one response per channel, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BroadcastResult {
    /// `{"result": …}` or `{"error": …}` per channel.
    pub responses: Vec<Reply<PublishResult>>,
}

/// Requests that name one channel: `presence`, `presence_stats`, `history_remove`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelParam {
    /// The channel.
    pub channel: String,
}

/// `history` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryRequest {
    /// The channel.
    pub channel: String,
    /// At most this many; absent or 0: only the position; negative: all kept.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only publications after (reversed: before) this position.
    #[serde(default)]
    pub since: Option<StreamPositionParam>,
    /// Newest first.
    #[serde(default)]
    pub reverse: Option<bool>,
}

/// `channels` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsRequest {
    /// A glob (`*` any run of characters, `?` one character) the names must match.
    #[serde(default)]
    pub pattern: Option<String>,
}

/// `channels` result entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Subscribers.
    pub num_clients: u64,
}

/// `channels` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelsResult {
    /// Active channels by name.
    pub channels: std::collections::BTreeMap<String, ChannelInfo>,
}

/// `batch` request: several commands in one call, each `{"<method>": {params}}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The commands, run in order.
    pub commands: Vec<serde_json::Map<String, Value>>,
    /// Centrifugo may run them concurrently; here they always run in order.
    #[serde(default)]
    pub parallel: Option<bool>,
}

/// `batch` result: one reply per command, `{"<method>": result}` or `{"error": …}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The replies, in command order.
    pub replies: Vec<Value>,
}

/// `subscribe` / `unsubscribe` request (Centrifugo's shape): the user's
/// connections, or one of them (`client`), join or leave a channel on the
/// server's initiative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSubscriptionRequest {
    /// The user (`""` for anonymous connections, with `client`).
    #[serde(default)]
    pub user: String,
    /// The channel.
    pub channel: String,
    /// Only this connection of the user.
    #[serde(default)]
    pub client: Option<String>,
    /// Centrifugo's session id; here the same as a connection id.
    #[serde(default)]
    pub session: Option<String>,
}

/// `subscribe` / `unsubscribe` result (Centrifugo answers `{}`; the count is ours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSubscriptionResult {
    /// Connections subscribed or unsubscribed.
    pub connections: u64,
}

/// `refresh` request (Centrifugo's shape): move the expiry of a user's
/// connections (or of one), or expire them now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The user.
    #[serde(default)]
    pub user: String,
    /// Only this connection of the user.
    #[serde(default)]
    pub client: Option<String>,
    /// Centrifugo's session id; here the same as a connection id.
    #[serde(default)]
    pub session: Option<String>,
    /// Expire the connections now (they are closed with 3005 and reconnect).
    #[serde(default)]
    pub expired: Option<bool>,
    /// New expiry, Unix seconds; absent (and not `expired`): never expire.
    #[serde(default)]
    pub expire_at: Option<u64>,
}

/// `offline_queue` request (Switchboard's own): what waits for a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineQueueRequest {
    /// The user.
    pub user: String,
}

/// `offline_queue` result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineQueueResult {
    /// Publications waiting, over all the user's channels.
    pub pending: u64,
}
