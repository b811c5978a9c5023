//! Error, disconnect and unsubscribe codes, in Centrifugo's numbering, so
//! the SDKs decide correctly whether to retry, reconnect or give up.

/// Reply error codes (`{"error": {"code", "message"}}`).
pub mod error {
    /// Internal server error (temporary: the SDK retries).
    pub const INTERNAL: u32 = 100;
    /// Not authorised to connect.
    pub const UNAUTHORIZED: u32 = 101;
    /// No such channel namespace.
    pub const UNKNOWN_CHANNEL: u32 = 102;
    /// The namespace does not allow this.
    pub const PERMISSION_DENIED: u32 = 103;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: u32 = 104;
    /// Already subscribed to the channel on this connection.
    pub const ALREADY_SUBSCRIBED: u32 = 105;
    /// A limit was reached (channels per connection, subscribers per channel).
    pub const LIMIT_EXCEEDED: u32 = 106;
    /// Malformed command or parameters.
    pub const BAD_REQUEST: u32 = 107;
    /// The feature is off for this channel (no history, no presence) or not supported.
    pub const NOT_AVAILABLE: u32 = 108;
    /// The token expired.
    pub const TOKEN_EXPIRED: u32 = 109;
    /// The connection expired.
    pub const EXPIRED: u32 = 110;
    /// Too many requests.
    pub const TOO_MANY_REQUESTS: u32 = 111;
    /// History cannot serve the asked position.
    pub const UNRECOVERABLE_POSITION: u32 = 112;
}

/// A WebSocket close code with its reason, as Centrifugo defines them.
/// 3000–3499 and 4000–4499: the SDK reconnects; 3500–3999 and 4500–4999: it
/// does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisconnectCode {
    /// The close code.
    pub code: u16,
    /// The close reason.
    pub reason: &'static str,
}

/// The disconnects the server uses.
pub mod disconnect {
    use super::DisconnectCode;

    /// Server shutdown (reconnect).
    pub const SHUTDOWN: DisconnectCode = DisconnectCode {
        code: 3001,
        reason: "shutdown",
    };
    /// The connection token expired and was not refreshed (reconnect with a new token).
    pub const EXPIRED: DisconnectCode = DisconnectCode {
        code: 3005,
        reason: "expired",
    };
    /// Internal server error (reconnect).
    pub const SERVER_ERROR: DisconnectCode = DisconnectCode {
        code: 3004,
        reason: "internal server error",
    };
    /// The client's outbound queue overflowed (reconnect).
    pub const SLOW: DisconnectCode = DisconnectCode {
        code: 3008,
        reason: "slow",
    };
    /// A subscription could not recover and must be re-established (reconnect).
    pub const INSUFFICIENT_STATE: DisconnectCode = DisconnectCode {
        code: 3010,
        reason: "insufficient state",
    };
    /// The server asks the client to reconnect.
    pub const FORCE_RECONNECT: DisconnectCode = DisconnectCode {
        code: 3011,
        reason: "force reconnect",
    };
    /// No pong to the server's ping in time (reconnect).
    pub const NO_PONG: DisconnectCode = DisconnectCode {
        code: 3012,
        reason: "no pong",
    };
    /// The connection token is malformed or wrongly signed (no reconnect).
    pub const INVALID_TOKEN: DisconnectCode = DisconnectCode {
        code: 3500,
        reason: "invalid token",
    };
    /// Bad request: a malformed command (no reconnect).
    pub const BAD_REQUEST: DisconnectCode = DisconnectCode {
        code: 3501,
        reason: "bad request",
    };
    /// The server dropped the client for good (no reconnect).
    pub const FORCE_NO_RECONNECT: DisconnectCode = DisconnectCode {
        code: 3503,
        reason: "force disconnect",
    };
    /// Too many channels for one connection (no reconnect).
    pub const CHANNEL_LIMIT: DisconnectCode = DisconnectCode {
        code: 3505,
        reason: "channel limit",
    };
    /// Connection refused: limit reached (no reconnect).
    pub const CONNECTION_LIMIT: DisconnectCode = DisconnectCode {
        code: 3504,
        reason: "connection limit",
    };
    /// The first command was not `connect`, or the protocol is not spoken (no reconnect).
    pub const INAPPROPRIATE_PROTOCOL: DisconnectCode = DisconnectCode {
        code: 3506,
        reason: "inappropriate protocol",
    };
    /// Anonymous connections are not allowed (no reconnect).
    pub const PERMISSION_DENIED: DisconnectCode = DisconnectCode {
        code: 3507,
        reason: "permission denied",
    };
}

/// Codes of the server's `unsubscribe` push: below 2500 the SDK stays
/// unsubscribed, from 2500 it subscribes again.
pub mod unsubscribe {
    /// Unsubscribed by the server (API `unsubscribe`).
    pub const SERVER: u32 = 2000;
    /// The subscription lost its stream position and must subscribe again.
    pub const INSUFFICIENT_STATE: u32 = 2500;
    /// The subscription token expired without a `sub_refresh`; the SDKs
    /// subscribe again with a fresh token.
    pub const EXPIRED: u32 = 2501;
}
