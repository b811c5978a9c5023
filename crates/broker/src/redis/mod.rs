//! Redis implementations of [`Broker`](crate::Broker) and
//! [`PresenceManager`](crate::PresenceManager), so several nodes behave as
//! one server.
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
//! | pub/sub channel `<prefix>:pub:<channel>` | — | publications (with offset and epoch), joins and leaves of a channel, to every node that SUBSCRIBEd (nodes with subscribers of the channel). One pub/sub channel per channel keeps the order of everything said about a channel. |
//!
//! Publishing with history is one Lua script (read/create epoch, `HINCRBY`,
//! `XADD`, expiries, `PUBLISH`), so the order of offsets is the order of
//! messages on the pub/sub channel, and every node's handler sees a
//! channel's publications in offset order (one pub/sub connection per node,
//! read by one task).
//!
//! Regular `PUBLISH` is broadcast to every node of a Redis Cluster; sharded
//! pub/sub (`SPUBLISH`) is not used yet.

mod broker;
mod codec;
mod presence;
mod scripts;

use std::time::Duration;

pub use broker::RedisBroker;
pub use presence::{RedisPresence, DEFAULT_PRESENCE_TTL};

use crate::types::BrokerError;

/// Bound on establishing a connection (at start and on reconnects).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one command (script, PUBLISH, SUBSCRIBE…): a call never hangs longer.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Redis is and how keys are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` when the
    /// redis crate is built with TLS).
    pub url: String,
    /// Prepended to every key and pub/sub channel, so several Switchboard
    /// deployments (or tests) can share one Redis. Must not contain `{` or `}`.
    pub prefix: String,
}

impl RedisOptions {
    /// Options for `url` with key prefix `prefix`.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
        }
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

/// A client and a connection manager for commands, connected within
/// [`CONNECT_TIMEOUT`].
pub(crate) async fn connect_commands(
    url: &str,
) -> Result<(::redis::Client, ::redis::aio::ConnectionManager), BrokerError> {
    let client = ::redis::Client::open(url).map_err(|e| unavailable("url", e))?;
    let config = ::redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let manager = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_connection_manager_with_config(config),
    )
    .await
    {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            return Err(BrokerError::Unavailable(format!(
                "cannot connect to redis at {}: {e}",
                redacted(url)
            )))
        }
        Err(_) => {
            return Err(BrokerError::Unavailable(format!(
                "cannot connect to redis at {}: no answer within {CONNECT_TIMEOUT:?}",
                redacted(url)
            )))
        }
    };
    Ok((client, manager))
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
