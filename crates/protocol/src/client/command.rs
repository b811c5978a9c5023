//! Commands from clients.
//!
//! Unknown fields are ignored rather than refused: newer SDKs send options
//! (compaction flags, deltas, tag filters) that a server may not support,
//! and the protocol expects such a server to carry on without them.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A position as clients send it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StreamPositionWire {
    /// Offset of the last publication seen.
    #[serde(default)]
    pub offset: u64,
    /// The stream's epoch.
    #[serde(default)]
    pub epoch: String,
}

/// `connect`.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectRequest {
    /// Connection token (JWT), once authentication exists.
    #[serde(default)]
    pub token: String,
    /// Custom data for the backend.
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
    /// Subscriptions to establish (and recover) with the connection.
    #[serde(default)]
    pub subs: std::collections::BTreeMap<String, SubscribeRequest>,
    /// SDK name.
    #[serde(default)]
    pub name: String,
    /// SDK version.
    #[serde(default)]
    pub version: String,
}

/// `subscribe`.
#[derive(Debug, Default, Deserialize)]
pub struct SubscribeRequest {
    /// The channel (empty inside `connect.subs`, where the map key names it).
    #[serde(default)]
    pub channel: String,
    /// Subscription token, once authentication exists.
    #[serde(default)]
    pub token: String,
    /// Recover missed publications from `offset`/`epoch`.
    #[serde(default)]
    pub recover: bool,
    /// Epoch of the last position.
    #[serde(default)]
    pub epoch: String,
    /// Offset of the last publication seen.
    #[serde(default)]
    pub offset: u64,
    /// Custom data.
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
}

/// Commands that name only a channel: `unsubscribe`, `presence`, `presence_stats`.
#[derive(Debug, Default, Deserialize)]
pub struct ChannelRequest {
    /// The channel.
    #[serde(default)]
    pub channel: String,
}

/// `publish`.
#[derive(Debug, Deserialize)]
pub struct PublishRequest {
    /// The channel.
    #[serde(default)]
    pub channel: String,
    /// The payload (any JSON).
    pub data: Box<RawValue>,
}

/// `history`.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryRequest {
    /// The channel.
    #[serde(default)]
    pub channel: String,
    /// At most this many publications; 0 (the default) returns only the position.
    #[serde(default)]
    pub limit: i32,
    /// Only publications after (or, reversed, before) this position.
    #[serde(default)]
    pub since: Option<StreamPositionWire>,
    /// Newest first.
    #[serde(default)]
    pub reverse: bool,
}

/// `rpc`.
#[derive(Debug, Deserialize)]
pub struct RpcRequest {
    /// The method name.
    #[serde(default)]
    pub method: String,
    /// The payload.
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
}

/// `send`: an asynchronous message to the server (no reply).
#[derive(Debug, Deserialize)]
pub struct SendRequest {
    /// The payload.
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
}

/// `refresh`.
#[derive(Debug, Default, Deserialize)]
pub struct RefreshRequest {
    /// The new connection token.
    #[serde(default)]
    pub token: String,
}

/// `sub_refresh`.
#[derive(Debug, Default, Deserialize)]
pub struct SubRefreshRequest {
    /// The channel.
    #[serde(default)]
    pub channel: String,
    /// The new subscription token.
    #[serde(default)]
    pub token: String,
}

/// One command as it arrives: an id and exactly one method field. The
/// empty object is the client's pong.
#[derive(Debug, Default, Deserialize)]
pub struct Command {
    /// Command id; replies carry it. 0 for `send` and the pong.
    #[serde(default)]
    pub id: u32,
    #[serde(default)]
    connect: Option<ConnectRequest>,
    #[serde(default)]
    subscribe: Option<SubscribeRequest>,
    #[serde(default)]
    unsubscribe: Option<ChannelRequest>,
    #[serde(default)]
    publish: Option<PublishRequest>,
    #[serde(default)]
    presence: Option<ChannelRequest>,
    #[serde(default)]
    presence_stats: Option<ChannelRequest>,
    #[serde(default)]
    history: Option<HistoryRequest>,
    #[serde(default)]
    ping: Option<serde_json::Value>,
    #[serde(default)]
    send: Option<SendRequest>,
    #[serde(default)]
    rpc: Option<RpcRequest>,
    #[serde(default)]
    refresh: Option<RefreshRequest>,
    #[serde(default)]
    sub_refresh: Option<SubRefreshRequest>,
}

/// A command's method with its parameters.
#[derive(Debug)]
pub enum Method {
    /// The empty object: the answer to the server's ping.
    Pong,
    /// `connect`.
    Connect(ConnectRequest),
    /// `subscribe`.
    Subscribe(SubscribeRequest),
    /// `unsubscribe`.
    Unsubscribe(ChannelRequest),
    /// `publish`.
    Publish(PublishRequest),
    /// `presence`.
    Presence(ChannelRequest),
    /// `presence_stats`.
    PresenceStats(ChannelRequest),
    /// `history`.
    History(HistoryRequest),
    /// `ping` (a client-initiated ping command, answered with an empty result).
    Ping,
    /// `send`.
    Send(SendRequest),
    /// `rpc`.
    Rpc(RpcRequest),
    /// `refresh`.
    Refresh(RefreshRequest),
    /// `sub_refresh`.
    SubRefresh(SubRefreshRequest),
}

impl Command {
    /// The method; `None` when the command names none or several.
    pub fn into_method(self) -> Option<Method> {
        let mut found = Vec::with_capacity(1);
        if let Some(r) = self.connect {
            found.push(Method::Connect(r));
        }
        if let Some(r) = self.subscribe {
            found.push(Method::Subscribe(r));
        }
        if let Some(r) = self.unsubscribe {
            found.push(Method::Unsubscribe(r));
        }
        if let Some(r) = self.publish {
            found.push(Method::Publish(r));
        }
        if let Some(r) = self.presence {
            found.push(Method::Presence(r));
        }
        if let Some(r) = self.presence_stats {
            found.push(Method::PresenceStats(r));
        }
        if let Some(r) = self.history {
            found.push(Method::History(r));
        }
        if self.ping.is_some() {
            found.push(Method::Ping);
        }
        if let Some(r) = self.send {
            found.push(Method::Send(r));
        }
        if let Some(r) = self.rpc {
            found.push(Method::Rpc(r));
        }
        if let Some(r) = self.refresh {
            found.push(Method::Refresh(r));
        }
        if let Some(r) = self.sub_refresh {
            found.push(Method::SubRefresh(r));
        }
        match found.len() {
            0 if self.id == 0 => Some(Method::Pong),
            1 => found.pop(),
            _ => None,
        }
    }
}

/// Splits a frame into commands (one JSON object per line).
pub fn parse_frame(text: &str) -> impl Iterator<Item = Result<Command, serde_json::Error>> + '_ {
    text.split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(serde_json::from_str::<Command>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_batched_commands_and_the_pong() {
        let frame = "{\"id\":1,\"connect\":{\"name\":\"js\"}}\n{\"id\":2,\"subscribe\":{\"channel\":\"chat:a\",\"recover\":true,\"offset\":5,\"epoch\":\"x\",\"flag\":1}}\n{}";
        let methods: Vec<_> = parse_frame(frame)
            .map(|c| c.unwrap().into_method().unwrap())
            .collect();
        assert!(matches!(methods[0], Method::Connect(_)));
        match &methods[1] {
            Method::Subscribe(s) => {
                assert_eq!(
                    (s.channel.as_str(), s.recover, s.offset, s.epoch.as_str()),
                    ("chat:a", true, 5, "x")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(methods[2], Method::Pong));
    }

    #[test]
    fn refuses_ambiguous_commands() {
        let c: Command = serde_json::from_str(
            r#"{"id":3,"presence":{"channel":"a"},"history":{"channel":"a"}}"#,
        )
        .unwrap();
        assert!(c.into_method().is_none());
        let c: Command = serde_json::from_str(r#"{"id":3}"#).unwrap();
        assert!(c.into_method().is_none());
        let publish: Command =
            serde_json::from_str(r#"{"id":4,"publish":{"channel":"a","data":{"x":[1,2]}}}"#)
                .unwrap();
        match publish.into_method() {
            Some(Method::Publish(p)) => assert_eq!(p.data.get(), r#"{"x":[1,2]}"#),
            other => panic!("{other:?}"),
        }
    }
}
