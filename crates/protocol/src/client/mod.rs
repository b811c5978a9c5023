//! Centrifugo's client protocol (v2), JSON encoding: what `channels`
//! endpoints speak, so the maintained SDKs (`centrifuge` on npm,
//! `centrifuge-python`, …) work unchanged.
//!
//! A WebSocket text frame carries one or more JSON objects separated by
//! `\n`. A client sends [`Command`]s; the server answers each command that
//! has an `id` with a [`Reply`] of the same id, and sends [`Push`]es (and
//! the empty object as a ping) whenever something happens. See
//! `docs/PROTOCOL.md` for what is supported.

mod codes;
mod command;
mod reply;

pub use codes::{disconnect, error, unsubscribe, DisconnectCode};
pub use command::{
    parse_frame, ChannelRequest, Command, ConnectRequest, HistoryRequest, Method, PublishRequest,
    RefreshRequest, RpcRequest, SendRequest, StreamPositionWire, SubRefreshRequest,
    SubscribeRequest,
};
pub use reply::{
    ClientInfoWire, ConnectResult, HistoryResult, PresenceResult, PresenceStatsResult,
    PublicationWire, Push, RefreshResult, Reply, ReplyError, RpcResult, SubRefreshResult,
    SubscribeResult, UnsubscribePush,
};
