//! Redis implementations of [`Broker`](crate::Broker),
//! [`PresenceManager`](crate::PresenceManager) and
//! [`OfflineStore`](crate::OfflineStore), so several nodes behave as one
//! server.
//!
//! # Key layout
//!
//! Every key of a channel carries the hash tag `{ch:<channel>}`, so all keys
//! one script touches hash to the same Redis Cluster slot (multi-key Lua
//! scripts are only allowed within one slot). The prefix must therefore not
//! contain `{` or `}` (checked at connect).
//!
//! | key | type | why |
//! | --- | --- | --- |
//! | `<prefix>:{ch:<channel>}:meta` | hash `{epoch, top}` | the stream's epoch and last offset. `HINCRBY top` inside the publish script assigns offsets atomically across nodes. It outlives the stream (TTL `max(history ttl, 1 day)`), so offsets and the epoch survive a quiet period and `remove_history`. When it is lost (expiry, eviction, flush), the next publish or history read creates a new random epoch and drops any stream left, so a client holding the old epoch is refused instead of being handed wrong offsets. |
//! | `<prefix>:{ch:<channel>}:stream` | stream, entry id `<offset>-0`, fields `t` (time ms), `d` (encoded publication) | a Redis stream is an append-only log with range reads by id: using the offset as the id makes "everything after offset N" one `XRANGE`, newest-first one `XREVRANGE`, size trimming `XADD MAXLEN =`, age trimming `XTRIM MINID`. Its TTL is the history TTL (refreshed by each publish): a channel quiet for longer has nothing left to keep. |
//! | `<prefix>:{ch:<channel>}:presence` | hash client id → encoded client info | presence is read whole (`HGETALL`) and changed per client (`HSET`/`HDEL`). |
//! | `<prefix>:{ch:<channel>}:presence:exp` | sorted set client id → expiry (Unix ms) | a hash has no per-field expiry in Redis 7.0, so expiry times live in a sorted set: `ZRANGEBYSCORE -inf now` finds the entries of a node that died without removing them, and reads drop them first. |
//! | `<prefix>:{ch:<channel>}:offline:<user>` | list of encoded publications (offset + body) | a user's offline queue in a user-limited channel: `RPUSH` + `LTRIM` keep the newest `offline_queue_size`; the key's TTL (the queue TTL, refreshed by each push) removes a queue nobody takes; `take` is `LRANGE` + `DEL` in one script, and drops entries older than the TTL. |
//! | `<prefix>:{ch:<channel>}:subs:<user>` | sorted set client id → expiry (Unix ms) | the user's connections subscribed to the channel on any node. The push script (one per publication, every listed user's keys in the channel's slot) drops expired entries and queues only for users with none left. Each node re-adds its entries with presence, so those of a node that died stop counting after the TTL. |
//! | `<prefix>:{user:<user>}:offline` | sorted set channel → queue expiry (Unix ms) | the channels where the user may have a queue, for `pending(user)` (then one `LLEN` per channel). Its own hash tag, since it spans channels: written by a second command after the push script, and only ever extended. |
//! | pub/sub channel `<prefix>:pub:<channel>` | — | publications (with offset and epoch), joins and leaves of a channel, to every node that SUBSCRIBEd (nodes with subscribers of the channel). One pub/sub channel per channel keeps the order of everything said about a channel. |
//!
//! Publishing with history is one Lua script (read/create epoch, `HINCRBY`,
//! `XADD`, expiries, `PUBLISH`), so the order of offsets is the order of
//! messages on the pub/sub channel, and every node's handler sees a
//! channel's publications in offset order (one pub/sub connection per node,
//! read by one task).
//!
//! # Redis Cluster
//!
//! With `cluster` set in [`RedisOptions`], commands go through the cluster client
//! (`redis::cluster_async`), which sends each script to the node owning the
//! slot of its keys; the hash tag above makes every script single-slot, so
//! a channel's scripts never fail with CROSSSLOT, and different channels
//! spread over the nodes.
//!
//! Pub/sub stays classic (`SUBSCRIBE`/`PUBLISH`) on one plain connection to
//! the first address that answers: a cluster broadcasts classic `PUBLISH`
//! over its bus to every node, so that one connection sees every channel.
//! Sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, which stays within a slot's
//! shard) is not used: a channel's messages would arrive on the connection
//! to its shard, so each node would need one connection per shard, would
//! have to move subscriptions when slots migrate or fail over, and around
//! such a move could get a channel's messages on two connections, out of
//! order. One classic connection per node, read by one task, keeps each
//! channel's messages in the order the scripts published them. The cost is
//! that every publication crosses the cluster bus to every node, which
//! matters only for clusters much larger than a Switchboard deployment.
//!
//! # Credentials and TLS
//!
//! `rediss://` addresses connect with TLS (rustls, `ring` provider).
//! [`RedisOptions::tls_ca_file`] makes that CA the only one trusted; without
//! it the system's roots are. [`RedisOptions::username`] and
//! [`RedisOptions::password`] replace those in the URLs, for every node.
//! Messages show addresses with the user info replaced by `***`.

mod broker;
mod codec;
mod connection;
mod offline;
mod presence;
mod scripts;

use std::path::PathBuf;
use std::time::Duration;

pub use broker::RedisBroker;
pub(crate) use connection::{connect_commands, connect_pubsub, Commands};
pub use offline::RedisOffline;
pub use presence::{RedisPresence, DEFAULT_PRESENCE_TTL};

use crate::types::BrokerError;

/// Bound on establishing a connection (at start and on reconnects).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one command (script, PUBLISH, SUBSCRIBE…): a call never hangs longer.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Redis is and how keys are named.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[[user]:password@]host:port[/db]`, or `rediss://…` for TLS.
    /// Used when [`urls`](Self::urls) is empty.
    pub url: String,
    /// Prepended to every key and pub/sub channel, so several Switchboard
    /// deployments (or tests) can share one Redis. Must not contain `{` or `}`.
    pub prefix: String,
    /// Used instead of `url` when not empty: the seed nodes of a cluster
    /// (any one reachable node is enough), or one server.
    pub urls: Vec<String>,
    /// The addresses are nodes of a Redis Cluster.
    pub cluster: bool,
    /// ACL user for every address, in place of the URLs' user.
    pub username: Option<String>,
    /// Password for every address, in place of the URLs' password.
    pub password: Option<String>,
    /// With `rediss://`: trust only this CA (PEM), not the system's roots.
    pub tls_ca_file: Option<PathBuf>,
    /// With `rediss://`: accept any server certificate (tests only).
    pub tls_insecure: bool,
}

impl RedisOptions {
    /// Options for the one server at `url` with key prefix `prefix`.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            urls: Vec::new(),
            cluster: false,
            username: None,
            password: None,
            tls_ca_file: None,
            tls_insecure: false,
        }
    }

    /// Options for the Redis Cluster with these seed nodes.
    pub fn cluster(urls: Vec<String>, prefix: impl Into<String>) -> Self {
        Self {
            urls,
            cluster: true,
            ..Self::new(String::new(), prefix)
        }
    }

    /// The addresses in use: [`urls`](Self::urls) if not empty, else `url`.
    pub fn addresses(&self) -> &[String] {
        if self.urls.is_empty() {
            std::slice::from_ref(&self.url)
        } else {
            &self.urls
        }
    }
}

/// Without passwords: options end up in logs and panic messages.
impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addresses: Vec<String> = self.addresses().iter().map(|u| redacted(u)).collect();
        f.debug_struct("RedisOptions")
            .field("addresses", &addresses)
            .field("prefix", &self.prefix)
            .field("cluster", &self.cluster)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_insecure", &self.tls_insecure)
            .finish()
    }
}

/// Key names of one deployment.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Result<Self, BrokerError> {
        if prefix.contains(['{', '}']) {
            return Err(BrokerError::Unavailable(format!(
                "invalid redis key prefix {prefix:?}: it must not contain '{{' or '}}' (keys are hash-tagged per channel)"
            )));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, channel: &str, suffix: &str) -> String {
        format!("{}:{{ch:{}}}:{}", self.prefix, channel, suffix)
    }

    pub(crate) fn stream(&self, channel: &str) -> String {
        self.key(channel, "stream")
    }

    pub(crate) fn meta(&self, channel: &str) -> String {
        self.key(channel, "meta")
    }

    pub(crate) fn presence(&self, channel: &str) -> String {
        self.key(channel, "presence")
    }

    pub(crate) fn presence_expiry(&self, channel: &str) -> String {
        self.key(channel, "presence:exp")
    }

    /// `user`'s offline queue for `channel`.
    pub(crate) fn offline(&self, channel: &str, user: &str) -> String {
        self.key(channel, &format!("offline:{user}"))
    }

    /// `user`'s connections subscribed to `channel`, with their expiry.
    pub(crate) fn offline_subs(&self, channel: &str, user: &str) -> String {
        self.key(channel, &format!("subs:{user}"))
    }

    /// The channels where `user` has an offline queue. Tagged by user, not
    /// by channel: it is read for one user across channels.
    pub(crate) fn user_offline(&self, user: &str) -> String {
        format!("{}:{{user:{}}}:offline", self.prefix, user)
    }

    pub(crate) fn pubsub(&self, channel: &str) -> String {
        format!("{}:pub:{}", self.prefix, channel)
    }

    /// The channel a pub/sub channel name belongs to.
    pub(crate) fn channel_of<'a>(&self, pubsub: &'a str) -> Option<&'a str> {
        pubsub.strip_prefix(&self.prefix)?.strip_prefix(":pub:")
    }
}

pub(crate) fn unavailable(what: &str, err: impl std::fmt::Display) -> BrokerError {
    BrokerError::Unavailable(format!("redis {what}: {err}"))
}

/// Runs one Redis call under [`COMMAND_TIMEOUT`], mapping every failure to
/// [`BrokerError::Unavailable`].
pub(crate) async fn bounded<T>(
    what: &str,
    fut: impl std::future::Future<Output = ::redis::RedisResult<T>>,
) -> Result<T, BrokerError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(err)) => Err(unavailable(what, err)),
        Err(_) => Err(BrokerError::Unavailable(format!(
            "redis {what}: no answer within {COMMAND_TIMEOUT:?}"
        ))),
    }
}

/// The URL without its password, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
