//! The broker layer: small role traits the hub talks to, and their
//! in-memory implementations.
//!
//! - [`Broker`]: publish into a channel (assigning history offsets), tell
//!   the node's [`BrokerHandler`] about every publication, join and leave of
//!   the channels it is interested in, read and remove history.
//! - [`PresenceManager`]: who is in a channel.
//! - [`OfflineStore`]: publications kept for users of user-limited channels
//!   while they are subscribed nowhere.
//!
//! Implementations: [`MemoryBroker`] / [`MemoryPresence`] /
//! [`MemoryOffline`] (one node) and [`RedisBroker`] / [`RedisPresence`] /
//! [`RedisOffline`] (many nodes on one Redis; key layout and the reasons for
//! each Redis structure are in the `redis` module docs).
//!
//! The traits are shaped so that a Redis implementation fits them: a
//! publish returns the position the store assigned, delivery to the hub is
//! a callback (a Redis pub/sub reader calls it from its own task), and node
//! interest in a channel is explicit (`subscribe`/`unsubscribe` map to
//! SUBSCRIBE/UNSUBSCRIBE).
#![deny(missing_docs)]

mod history;
mod memory;
mod offline;
mod redis;
mod types;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use crate::redis::{
    RedisBroker, RedisOffline, RedisOptions, RedisPresence, DEFAULT_PRESENCE_TTL,
};
pub use history::Stream;
pub use memory::{MemoryBroker, MemoryPresence};
pub use offline::{MemoryOffline, OfflineQueueOptions};
pub use types::{
    BrokerError, ClientInfo, HistoryOptions, HistoryPage, HistoryQuery, PresenceStats, Publication,
    StreamPosition,
};

/// Receives what happens in channels this node is interested in. Called in
/// publication order per channel; implementations must not block.
pub trait BrokerHandler: Send + Sync + 'static {
    /// A publication; `position.offset` equals its offset when the channel keeps history.
    fn on_publication(
        &self,
        channel: &str,
        publication: Arc<Publication>,
        position: &StreamPosition,
    );
    /// A client joined.
    fn on_join(&self, channel: &str, info: Arc<ClientInfo>);
    /// A client left.
    fn on_leave(&self, channel: &str, info: Arc<ClientInfo>);
    /// The connection that brings publications was lost and is back, with
    /// every channel subscribed again: publications made meanwhile never
    /// reached the handler, so a handler that tracks positions should read
    /// them from history.
    fn on_resubscribed(&self) {}
}

/// Receives control messages from other nodes (the server API reaching
/// connections held elsewhere). Must not block.
pub trait ControlHandler: Send + Sync + 'static {
    /// One message, as the sender gave it.
    fn on_control(&self, message: Bytes);
}

/// Moves publications between nodes and keeps history.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Where publications go; set once by the hub at start.
    fn set_handler(&self, handler: Arc<dyn BrokerHandler>);

    /// How many times the connection that brings publications from other
    /// nodes was re-established (0 for a broker without one).
    fn reconnects(&self) -> u64 {
        0
    }

    /// Publishes; with `history`, keeps it and assigns the next offset.
    async fn publish(
        &self,
        channel: &str,
        publication: Publication,
        history: Option<HistoryOptions>,
    ) -> Result<StreamPosition, BrokerError>;

    /// Announces a join to every node.
    async fn publish_join(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError>;

    /// Announces a leave to every node.
    async fn publish_leave(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError>;

    /// This node now has subscribers in `channel`.
    async fn subscribe(&self, channel: &str) -> Result<(), BrokerError>;

    /// This node no longer has subscribers in `channel`.
    async fn unsubscribe(&self, channel: &str) -> Result<(), BrokerError>;

    /// Reads history (trimming expired publications first).
    async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
        history: HistoryOptions,
    ) -> Result<HistoryPage, BrokerError>;

    /// Removes a channel's publications; its epoch and offsets carry on.
    async fn remove_history(&self, channel: &str) -> Result<(), BrokerError>;

    /// Joins the control bus as node `node`: `handler` gets every message
    /// sent to all nodes or to this one.
    async fn join_control(
        &self,
        node: &str,
        handler: Arc<dyn ControlHandler>,
    ) -> Result<(), BrokerError>;

    /// Sends a control message to node `to`, or to every node that joined
    /// (this one included) when `None`.
    async fn publish_control(&self, to: Option<&str>, message: Bytes) -> Result<(), BrokerError>;
}

/// Who is present in channels.
#[async_trait]
pub trait PresenceManager: Send + Sync + 'static {
    /// Adds or refreshes a connection's presence.
    async fn add(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError>;
    /// Removes a connection's presence.
    async fn remove(&self, channel: &str, client: &str) -> Result<(), BrokerError>;
    /// Everyone present, by connection id.
    async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, Arc<ClientInfo>>, BrokerError>;
    /// Counts.
    async fn stats(&self, channel: &str) -> Result<PresenceStats, BrokerError>;
}

/// Offline queues of user-limited channels (`ns:name#alice,bob`): a
/// publication is kept for each listed user that has no subscription to
/// the channel on any node, and handed out when that user subscribes.
///
/// Nodes tell the store which of their connections are subscribed to such
/// channels ([`subscribed`](Self::subscribed) / [`unsubscribed`](Self::unsubscribed)).
/// A store shared by several nodes may let a subscription entry expire
/// unless its node calls `subscribed` again periodically (as presence
/// entries), so the subscriptions of a node that died stop counting.
#[async_trait]
pub trait OfflineStore: Send + Sync + 'static {
    /// Connection `client` of `user` is subscribed to `channel` (or still
    /// is: calling it again refreshes the entry).
    async fn subscribed(&self, channel: &str, user: &str, client: &str) -> Result<(), BrokerError>;
    /// Connection `client` of `user` left `channel`.
    async fn unsubscribed(
        &self,
        channel: &str,
        user: &str,
        client: &str,
    ) -> Result<(), BrokerError>;
    /// Keeps `publication` for each of `users` with no subscription to
    /// `channel` anywhere, at most `options.size` per user and channel
    /// (the oldest is dropped). Returns the users it could not be kept for
    /// (a limit of the store on the number of queues).
    async fn push(
        &self,
        channel: &str,
        users: &[&str],
        publication: Arc<Publication>,
        options: OfflineQueueOptions,
    ) -> Result<Vec<String>, BrokerError>;
    /// Takes (removes and returns, oldest first) `user`'s queue for
    /// `channel`, without publications older than `ttl` at `now_ms`.
    async fn take(
        &self,
        channel: &str,
        user: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Vec<Arc<Publication>>, BrokerError>;
    /// Publications waiting for `user`, over all channels.
    async fn pending(&self, user: &str) -> Result<usize, BrokerError>;
}

/// Unix time in milliseconds, the clock of publications.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
