//! Replies and pushes, serialised without intermediate trees: payloads stay
//! raw JSON (`RawValue`) from the publisher to every subscriber.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A reply error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyError {
    /// Error code (see [`super::error`]).
    pub code: u32,
    /// Human-readable message.
    pub message: String,
    /// The SDK may retry the command.
    #[serde(skip_serializing_if = "is_false")]
    pub temporary: bool,
}

impl ReplyError {
    /// A permanent error.
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            temporary: false,
        }
    }
}

/// Who published or who is present.
#[derive(Debug, Clone, Serialize)]
pub struct ClientInfoWire<'a> {
    /// User id ("" for anonymous).
    pub user: &'a str,
    /// Connection id.
    pub client: &'a str,
    /// Connection info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_info: Option<&'a RawValue>,
    /// Channel info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chan_info: Option<&'a RawValue>,
}

/// A publication.
#[derive(Debug, Clone, Serialize)]
pub struct PublicationWire<'a> {
    /// The payload.
    pub data: &'a RawValue,
    /// Its offset (absent for channels without history).
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub offset: u64,
    /// The publisher.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ClientInfoWire<'a>>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<&'a BTreeMap<String, String>>,
}

/// `subscribe` result (also inside `connect.subs` and the `subscribe` push).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscribeResult<'a> {
    /// The subscription expires (it was made with a subscription token).
    #[serde(skip_serializing_if = "is_false")]
    pub expires: bool,
    /// Seconds until it expires.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// The channel keeps history and the client may recover.
    #[serde(skip_serializing_if = "is_false")]
    pub recoverable: bool,
    /// The stream's epoch.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub epoch: &'a str,
    /// Recovered (or last-value) publications, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<PublicationWire<'a>>,
    /// Every missed publication was recovered.
    #[serde(skip_serializing_if = "is_false")]
    pub recovered: bool,
    /// The stream's top offset.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub offset: u64,
    /// The client's position is tracked.
    #[serde(skip_serializing_if = "is_false")]
    pub positioned: bool,
    /// The client asked to recover.
    #[serde(skip_serializing_if = "is_false")]
    pub was_recovering: bool,
    /// Custom data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
}

/// `connect` result.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectResult<'a> {
    /// The connection id.
    pub client: &'a str,
    /// Server version.
    pub version: &'a str,
    /// The connection expires (token-based, later).
    #[serde(skip_serializing_if = "is_false")]
    pub expires: bool,
    /// Seconds until it expires.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
    /// Custom data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
    /// Subscriptions established with the connection.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub subs: BTreeMap<String, SubscribeResult<'a>>,
    /// Seconds between the server's pings.
    pub ping: u32,
    /// The server expects the client to answer pings.
    pub pong: bool,
    /// The node that serves the connection.
    pub node: &'a str,
    /// The session id an SSE or HTTP-streaming client names when it posts
    /// commands (empty, and left out, on WebSocket).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub session: &'a str,
}

/// `rpc` result: the backend's data.
#[derive(Debug, Clone, Serialize)]
pub struct RpcResult<'a> {
    /// What the backend answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
}

/// `refresh` result.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshResult<'a> {
    /// The connection id.
    pub client: &'a str,
    /// Server version.
    pub version: &'a str,
    /// The connection expires.
    pub expires: bool,
    /// Seconds until it expires.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
}

/// `sub_refresh` result.
#[derive(Debug, Clone, Serialize)]
pub struct SubRefreshResult {
    /// The subscription expires.
    pub expires: bool,
    /// Seconds until it expires.
    #[serde(skip_serializing_if = "is_zero_u32")]
    pub ttl: u32,
}

/// `presence` result.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceResult<'a> {
    /// Present connections by id.
    pub presence: BTreeMap<&'a str, ClientInfoWire<'a>>,
}

/// `presence_stats` result.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PresenceStatsResult {
    /// Connections present.
    pub num_clients: u32,
    /// Distinct users among them.
    pub num_users: u32,
}

/// `history` result.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryResult<'a> {
    /// The publications.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publications: Vec<PublicationWire<'a>>,
    /// The stream's epoch.
    pub epoch: &'a str,
    /// The stream's top offset.
    pub offset: u64,
}

/// The `unsubscribe` push.
#[derive(Debug, Clone, Serialize)]
pub struct UnsubscribePush<'a> {
    /// Code (see [`super::unsubscribe`]).
    pub code: u32,
    /// Reason.
    pub reason: &'a str,
}

/// A reply to a command.
#[derive(Debug)]
pub enum Reply<'a> {
    /// The command failed.
    Error(ReplyError),
    /// `connect` succeeded.
    Connect(ConnectResult<'a>),
    /// `subscribe` succeeded.
    Subscribe(SubscribeResult<'a>),
    /// `unsubscribe` succeeded.
    Unsubscribe,
    /// `publish` succeeded.
    Publish,
    /// `presence`.
    Presence(PresenceResult<'a>),
    /// `presence_stats`.
    PresenceStats(PresenceStatsResult),
    /// `history`.
    History(HistoryResult<'a>),
    /// `ping`.
    Ping,
    /// `refresh`.
    Refresh(RefreshResult<'a>),
    /// `sub_refresh`.
    SubRefresh(SubRefreshResult),
    /// `rpc`.
    Rpc(RpcResult<'a>),
}

impl Reply<'_> {
    /// The reply line for command `id`.
    pub fn to_line(&self, id: u32) -> String {
        let mut out = Vec::with_capacity(64);
        let mut ser = serde_json::Serializer::new(&mut out);
        // Serialising our own structs into a Vec cannot fail.
        let _ = self.serialize_with_id(id, &mut ser);
        String::from_utf8(out).unwrap_or_default()
    }

    fn serialize_with_id<S: Serializer>(&self, id: u32, ser: S) -> Result<S::Ok, S::Error> {
        let empty = serde_json::Map::new();
        let mut map = ser.serialize_map(Some(2))?;
        map.serialize_entry("id", &id)?;
        match self {
            Reply::Error(e) => map.serialize_entry("error", e)?,
            Reply::Connect(r) => map.serialize_entry("connect", r)?,
            Reply::Subscribe(r) => map.serialize_entry("subscribe", r)?,
            Reply::Unsubscribe => map.serialize_entry("unsubscribe", &empty)?,
            Reply::Publish => map.serialize_entry("publish", &empty)?,
            Reply::Presence(r) => map.serialize_entry("presence", r)?,
            Reply::PresenceStats(r) => map.serialize_entry("presence_stats", r)?,
            Reply::History(r) => map.serialize_entry("history", r)?,
            Reply::Ping => map.serialize_entry("ping", &empty)?,
            Reply::Refresh(r) => map.serialize_entry("refresh", r)?,
            Reply::SubRefresh(r) => map.serialize_entry("sub_refresh", r)?,
            Reply::Rpc(r) => map.serialize_entry("rpc", r)?,
        }
        map.end()
    }
}

/// An asynchronous message from the server.
#[derive(Debug)]
pub enum Push<'a> {
    /// A publication in a subscribed channel.
    Publication(PublicationWire<'a>),
    /// Someone joined a subscribed channel.
    Join(ClientInfoWire<'a>),
    /// Someone left a subscribed channel.
    Leave(ClientInfoWire<'a>),
    /// The server ended a subscription.
    Unsubscribe(UnsubscribePush<'a>),
    /// The server subscribed the connection (a server-side subscription).
    Subscribe(SubscribeResult<'a>),
    /// A message to this connection (server API `send`).
    Message(&'a RawValue),
    /// The server ends the connection (on a stream transport, which has no
    /// close frame to say why).
    Disconnect {
        /// Centrifugo's disconnect code.
        code: u16,
        /// Why.
        reason: &'a str,
    },
}

impl Push<'_> {
    /// The push line for `channel` (empty for connection-level pushes).
    pub fn to_line(&self, channel: &str) -> String {
        #[derive(Serialize)]
        struct Info<'b, 'c> {
            info: &'b ClientInfoWire<'c>,
        }
        #[derive(Serialize)]
        struct Data<'b> {
            data: &'b RawValue,
        }
        struct Body<'b, 'c>(&'b Push<'c>, &'b str);
        impl Serialize for Body<'_, '_> {
            fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let mut map = ser.serialize_map(None)?;
                if !self.1.is_empty() {
                    map.serialize_entry("channel", self.1)?;
                }
                match self.0 {
                    Push::Publication(p) => map.serialize_entry("pub", p)?,
                    Push::Join(info) => map.serialize_entry("join", &Info { info })?,
                    Push::Leave(info) => map.serialize_entry("leave", &Info { info })?,
                    Push::Unsubscribe(u) => map.serialize_entry("unsubscribe", u)?,
                    Push::Subscribe(r) => map.serialize_entry("subscribe", r)?,
                    Push::Message(data) => map.serialize_entry("message", &Data { data })?,
                    Push::Disconnect { code, reason } => {
                        let body = serde_json::json!({ "code": code, "reason": reason });
                        map.serialize_entry("disconnect", &body)?
                    }
                }
                map.end()
            }
        }
        #[derive(Serialize)]
        struct Envelope<'b, 'c> {
            push: Body<'b, 'c>,
        }
        serde_json::to_string(&Envelope {
            push: Body(self, channel),
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn replies_carry_the_id_and_one_result() {
        assert_eq!(Reply::Publish.to_line(3), r#"{"id":3,"publish":{}}"#);
        let err = Reply::Error(ReplyError::new(102, "unknown channel"));
        assert_eq!(
            err.to_line(4),
            r#"{"id":4,"error":{"code":102,"message":"unknown channel"}}"#
        );
        let sub = Reply::Subscribe(SubscribeResult {
            recoverable: true,
            epoch: "ab",
            offset: 7,
            recovered: true,
            was_recovering: true,
            positioned: true,
            ..SubscribeResult::default()
        });
        assert_eq!(
            sub.to_line(5),
            r#"{"id":5,"subscribe":{"recoverable":true,"epoch":"ab","recovered":true,"offset":7,"positioned":true,"was_recovering":true}}"#
        );
    }

    #[test]
    fn publication_push_keeps_raw_data() {
        let data = raw(r#"{"text":"hi","n":[1,2]}"#);
        let info = ClientInfoWire {
            user: "u",
            client: "c",
            conn_info: None,
            chan_info: None,
        };
        let push = Push::Publication(PublicationWire {
            data: &data,
            offset: 9,
            info: Some(info),
            tags: None,
        });
        assert_eq!(
            push.to_line("chat:a"),
            r#"{"push":{"channel":"chat:a","pub":{"data":{"text":"hi","n":[1,2]},"offset":9,"info":{"user":"u","client":"c"}}}}"#
        );
        let msg = raw("42");
        assert_eq!(
            Push::Message(&msg).to_line(""),
            r#"{"push":{"message":{"data":42}}}"#
        );
    }
}
