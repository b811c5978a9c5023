//! Events emitted for every connection of a raw endpoint.
//!
//! The shape is n8n-friendly: `{event, connection: {...}, message, timestamp}`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a connection is, as every event and the `connections` API method show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// Unguessable connection id (UUID v4).
    pub id: String,
    /// The endpoint path the client connected to (shared by its connections).
    pub endpoint: Arc<str>,
    /// Client address `ip:port`; from `X-Forwarded-For` when the peer is a trusted proxy.
    pub remote_addr: String,
    /// The `User-Agent` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Box<str>>,
    /// The `Origin` header (browsers send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Box<str>>,
    /// The negotiated subprotocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subprotocol: Option<Box<str>>,
    /// The authenticated user, when the endpoint authenticates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Box<str>>,
    /// How the client is connected (left out for WebSocket).
    #[serde(default, skip_serializing_if = "Transport::is_websocket")]
    pub transport: Transport,
    /// When the connection was accepted (RFC 3339).
    pub connected_at: String,
}

/// How a client is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// A WebSocket.
    #[default]
    Websocket,
    /// Server-Sent Events, sending by POST.
    Sse,
    /// HTTP streaming (newline-delimited), sending by POST.
    HttpStream,
}

impl Transport {
    /// Whether this is a WebSocket (the default, left out of JSON).
    pub fn is_websocket(&self) -> bool {
        *self == Transport::Websocket
    }
}

/// The kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A client connected (after the handshake and capacity check).
    Connect,
    /// A client sent a data message.
    Message,
    /// A connection ended.
    Disconnect,
    /// Something went wrong with a connection (refused, protocol violation).
    Error,
    /// A `channels` client called `rpc`.
    Rpc,
    /// A user's first connection opened.
    UserOnline,
    /// A user's last connection closed and none opened within the grace period.
    UserOffline,
}

/// How the client's frame was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// A text frame that parsed as JSON: `message` is that JSON value.
    Json,
    /// A text frame that is not JSON: `message` is the string.
    Text,
    /// A binary frame: `message` is its base64 (standard alphabet, padded).
    Binary,
}

/// Details of a `disconnect` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectInfo {
    /// Close code (1006 when the TCP connection ended without a close frame).
    pub code: u16,
    /// Close reason.
    pub reason: String,
    /// `client`, `server` or `network`.
    pub initiator: String,
    /// Connection lifetime in milliseconds.
    pub duration_ms: u64,
    /// Data messages received from the client.
    pub messages_in: u64,
    /// Data messages sent to the client.
    pub messages_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
}

/// Details of an `error` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// A stable machine-readable kind: `capacity`, `busy`, `protocol`, `invalid_payload`, `message_too_big`.
    pub kind: String,
    /// Human-readable detail.
    pub message: String,
    /// The close code the connection received, if it was closed for this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_code: Option<u16>,
}

/// One event for the sinks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id (UUID v4): the webhook's `Idempotency-Key`, and how dead
    /// letters are named.
    pub id: String,
    /// The kind of event.
    pub event: EventType,
    /// The connection it concerns.
    pub connection: Arc<ConnectionInfo>,
    /// For `message`: the client's message (see `message_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// For `message`: how `message` was read from the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<MessageType>,
    /// For `rpc`: the method the client called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// For `message` on `format = "envelope"` endpoints: the whole object the client sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Value>,
    /// For `disconnect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect: Option<DisconnectInfo>,
    /// For `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// A handle the server API accepts as a `send` target: it reaches this
    /// connection, or after it is gone, its user (see [`crate::reply_to`]).
    pub reply_to: String,
    /// For `message`: the client's receipt tag, when it asked for a
    /// receipt (endpoints with `receipts = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    /// When the event happened (RFC 3339 UTC, milliseconds).
    pub timestamp: String,
}

impl Event {
    fn new(event: EventType, connection: Arc<ConnectionInfo>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            reply_to: crate::reply_to::encode(&connection.id, connection.user.as_deref()),
            receipt: None,
            event,
            connection,
            message: None,
            message_type: None,
            method: None,
            envelope: None,
            disconnect: None,
            error: None,
            timestamp: crate::now_rfc3339(),
        }
    }

    /// A `connect` event.
    pub fn connect(connection: Arc<ConnectionInfo>) -> Self {
        Self::new(EventType::Connect, connection)
    }

    /// A `message` event.
    pub fn message(connection: Arc<ConnectionInfo>, decoded: crate::payload::Decoded) -> Self {
        Self {
            message: Some(decoded.message),
            message_type: Some(decoded.message_type),
            envelope: decoded.envelope,
            ..Self::new(EventType::Message, connection)
        }
    }

    /// `user_online` or `user_offline`, about the connection that caused it.
    pub fn user(connection: Arc<ConnectionInfo>, online: bool) -> Self {
        let event = if online {
            EventType::UserOnline
        } else {
            EventType::UserOffline
        };
        Self::new(event, connection)
    }

    /// An `rpc` event: `message` is the call's data.
    pub fn rpc(
        connection: Arc<ConnectionInfo>,
        method: String,
        decoded: crate::payload::Decoded,
    ) -> Self {
        Self {
            method: Some(method),
            ..Self::message(connection, decoded)
        }
        .with_type(EventType::Rpc)
    }

    fn with_type(mut self, event: EventType) -> Self {
        self.event = event;
        self
    }

    /// A `disconnect` event.
    pub fn disconnect(connection: Arc<ConnectionInfo>, info: DisconnectInfo) -> Self {
        Self {
            disconnect: Some(info),
            ..Self::new(EventType::Disconnect, connection)
        }
    }

    /// An `error` event.
    pub fn error(connection: Arc<ConnectionInfo>, info: ErrorInfo) -> Self {
        Self {
            error: Some(info),
            ..Self::new(EventType::Error, connection)
        }
    }
}
