//! [`RedisOffline`]: offline queues shared by every node on one Redis.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::{join_all, try_join_all};
use redis::{AsyncCommands, Script};

use super::{
    bounded, codec, scripts, Commands, Keys, RedisBroker, RedisOptions, DEFAULT_PRESENCE_TTL,
};
use crate::offline::{fresh, OfflineQueueOptions};
use crate::types::{BrokerError, Publication};
use crate::{now_ms, OfflineStore};

/// Offline queues and the subscriptions that decide them, shared by every
/// node on one Redis (and prefix).
///
/// A subscription entry expires [`ttl`](RedisOffline::with_ttl) after its
/// last [`subscribed`](OfflineStore::subscribed): the node holding the
/// connection calls it again periodically (as it re-adds presence), so the
/// subscriptions of a node that died stop keeping publications out of the
/// queues once they expire.
#[derive(Clone)]
pub struct RedisOffline {
    keys: Keys,
    commands: Commands,
    ttl: Duration,
    subscribed: Arc<Script>,
    push: Arc<Script>,
    take: Arc<Script>,
    index_add: Arc<Script>,
    index_read: Arc<Script>,
}

impl std::fmt::Debug for RedisOffline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOffline")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisOffline {
    /// Connects within 5 s; a Redis that cannot be reached is
    /// [`BrokerError::Unavailable`].
    pub async fn connect(options: RedisOptions) -> Result<Self, BrokerError> {
        let keys = Keys::new(&options.prefix)?;
        let commands = super::connect_commands(&options, false).await?;
        Ok(Self::build(keys, commands))
    }

    /// Offline queues on the broker's Redis connection and prefix.
    pub fn from_broker(broker: &RedisBroker) -> Self {
        Self::build(broker.keys().clone(), broker.commands())
    }

    fn build(keys: Keys, commands: Commands) -> Self {
        Self {
            keys,
            commands,
            ttl: DEFAULT_PRESENCE_TTL,
            subscribed: Arc::new(Script::new(scripts::OFFLINE_SUBSCRIBED)),
            push: Arc::new(Script::new(scripts::OFFLINE_PUSH)),
            take: Arc::new(Script::new(scripts::OFFLINE_TAKE)),
            index_add: Arc::new(Script::new(scripts::USER_OFFLINE_ADD)),
            index_read: Arc::new(Script::new(scripts::USER_OFFLINE_READ)),
        }
    }

    /// Sets the subscription entry TTL (default [`DEFAULT_PRESENCE_TTL`],
    /// so that the presence refresh keeps both alive).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    /// Notes in `user`'s index that it has a queue in `channel` until
    /// `expires_at`. Another slot than the queue, so a second command.
    async fn index(&self, user: &str, channel: &str, expires_at: u64, ttl: u64) {
        let mut con = self.commands.clone();
        let mut invocation = self.index_add.prepare_invoke();
        invocation
            .key(self.keys.user_offline(user))
            .arg(channel)
            .arg(expires_at)
            .arg(ttl);
        let result = bounded("offline index", invocation.invoke_async::<()>(&mut con)).await;
        if let Err(err) = result {
            // The publication is queued; only `pending` counts miss it.
            tracing::warn!(channel, user, error = %err, "offline queue index not updated");
        }
    }
}

#[async_trait]
impl OfflineStore for RedisOffline {
    async fn subscribed(&self, channel: &str, user: &str, client: &str) -> Result<(), BrokerError> {
        let mut con = self.commands.clone();
        let ttl = self.ttl.as_millis() as u64;
        let mut invocation = self.subscribed.prepare_invoke();
        invocation
            .key(self.keys.offline_subs(channel, user))
            .arg(client)
            .arg(now_ms() + ttl)
            .arg(ttl);
        bounded(
            "offline subscribed",
            invocation.invoke_async::<()>(&mut con),
        )
        .await
    }

    async fn unsubscribed(
        &self,
        channel: &str,
        user: &str,
        client: &str,
    ) -> Result<(), BrokerError> {
        let mut con = self.commands.clone();
        let key = self.keys.offline_subs(channel, user);
        bounded("offline unsubscribed", con.zrem::<_, _, ()>(key, client)).await
    }

    async fn push(
        &self,
        channel: &str,
        users: &[&str],
        publication: Arc<Publication>,
        options: OfflineQueueOptions,
    ) -> Result<Vec<String>, BrokerError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut con = self.commands.clone();
        let now = now_ms();
        let ttl = (options.ttl.as_millis() as u64).max(1);
        let mut invocation = self.push.prepare_invoke();
        for user in users {
            invocation
                .key(self.keys.offline_subs(channel, user))
                .key(self.keys.offline(channel, user));
        }
        invocation
            .arg(now)
            .arg(options.size.max(1))
            .arg(ttl)
            .arg(codec::encode_queued_publication(&publication));
        let queued: Vec<usize> = bounded("offline push", invocation.invoke_async(&mut con)).await?;
        let queued = queued
            .into_iter()
            .filter_map(|n| users.get(n.checked_sub(1)?));
        join_all(queued.map(|user| self.index(user, channel, now + ttl, ttl))).await;
        // Queues drop their oldest entry when full: nothing is refused.
        Ok(Vec::new())
    }

    async fn take(
        &self,
        channel: &str,
        user: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Vec<Arc<Publication>>, BrokerError> {
        let mut con = self.commands.clone();
        let mut invocation = self.take.prepare_invoke();
        invocation.key(self.keys.offline(channel, user));
        let entries: Vec<Vec<u8>> =
            bounded("offline take", invocation.invoke_async(&mut con)).await?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.keys.user_offline(user);
        if let Err(err) = bounded("offline index", con.zrem::<_, _, ()>(index, channel)).await {
            // Taken anyway; the index entry expires with the queue it named.
            tracing::warn!(channel, user, error = %err, "offline queue index not updated");
        }
        let mut publications = Vec::with_capacity(entries.len());
        for entry in entries {
            match codec::decode_queued_publication(&entry) {
                Some(p) => publications.push(Arc::new(p)),
                None => tracing::warn!(channel, user, "undecodable offline queue entry; skipped"),
            }
        }
        Ok(fresh(publications, ttl, now_ms))
    }

    async fn pending(&self, user: &str) -> Result<usize, BrokerError> {
        let mut con = self.commands.clone();
        let mut invocation = self.index_read.prepare_invoke();
        invocation.key(self.keys.user_offline(user)).arg(now_ms());
        let channels: Vec<String> =
            bounded("offline pending", invocation.invoke_async(&mut con)).await?;
        let lengths = try_join_all(channels.iter().map(|channel| {
            let mut con = self.commands.clone();
            let key = self.keys.offline(channel, user);
            async move { bounded("offline pending", con.llen::<_, usize>(key)).await }
        }))
        .await?;
        Ok(lengths.into_iter().sum())
    }
}
