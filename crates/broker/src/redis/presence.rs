//! [`RedisPresence`]: presence in a hash per channel, with per-entry expiry.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;

use super::{bounded, codec, scripts, Commands, Keys, RedisBroker, RedisOptions};
use crate::types::{BrokerError, ClientInfo, PresenceStats};
use crate::{now_ms, PresenceManager};

/// How long an entry lives after its last `add` unless refreshed.
pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(60);

/// Presence shared by every node on one Redis.
///
/// Each entry expires [`ttl`](RedisPresence::with_ttl) after its last
/// [`add`](PresenceManager::add): the node owning the connection is
/// expected to call `add` again periodically (well within the TTL, e.g.
/// every third of it) for as long as the connection stays subscribed, so
/// that the entries of a node that died without removing them vanish.
/// Reads drop expired entries first.
#[derive(Clone)]
pub struct RedisPresence {
    keys: Keys,
    commands: Commands,
    ttl: Duration,
    add: Arc<Script>,
    remove: Arc<Script>,
    read: Arc<Script>,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Connects within 5 s; a Redis that cannot be reached is
    /// [`BrokerError::Unavailable`].
    pub async fn connect(options: RedisOptions) -> Result<Self, BrokerError> {
        let keys = Keys::new(&options.prefix)?;
        let commands = super::connect_commands(&options, false).await?;
        Ok(Self::build(keys, commands))
    }

    /// Presence on the broker's Redis connection and prefix.
    pub fn from_broker(broker: &RedisBroker) -> Self {
        Self::build(broker.keys().clone(), broker.commands())
    }

    fn build(keys: Keys, commands: Commands) -> Self {
        Self {
            keys,
            commands,
            ttl: DEFAULT_PRESENCE_TTL,
            add: Arc::new(Script::new(scripts::PRESENCE_ADD)),
            remove: Arc::new(Script::new(scripts::PRESENCE_REMOVE)),
            read: Arc::new(Script::new(scripts::PRESENCE_READ)),
        }
    }

    /// Sets the entry TTL (default [`DEFAULT_PRESENCE_TTL`]).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_millis(1));
        self
    }

    async fn read(&self, channel: &str) -> Result<Vec<(String, Vec<u8>)>, BrokerError> {
        let mut con = self.commands.clone();
        let mut invocation = self.read.prepare_invoke();
        invocation
            .key(self.keys.presence(channel))
            .key(self.keys.presence_expiry(channel))
            .arg(now_ms());
        bounded("presence", invocation.invoke_async(&mut con)).await
    }
}

#[async_trait]
impl PresenceManager for RedisPresence {
    async fn add(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let mut con = self.commands.clone();
        let ttl = self.ttl.as_millis() as u64;
        let mut invocation = self.add.prepare_invoke();
        invocation
            .key(self.keys.presence(channel))
            .key(self.keys.presence_expiry(channel))
            .arg(&info.client)
            .arg(codec::encode_info(&info))
            .arg(now_ms() + ttl)
            .arg(ttl);
        bounded("presence add", invocation.invoke_async::<()>(&mut con)).await
    }

    async fn remove(&self, channel: &str, client: &str) -> Result<(), BrokerError> {
        let mut con = self.commands.clone();
        let mut invocation = self.remove.prepare_invoke();
        invocation
            .key(self.keys.presence(channel))
            .key(self.keys.presence_expiry(channel))
            .arg(client);
        bounded("presence remove", invocation.invoke_async::<()>(&mut con)).await
    }

    async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, Arc<ClientInfo>>, BrokerError> {
        let mut out = HashMap::new();
        for (client, info) in self.read(channel).await? {
            match codec::decode_info(&info) {
                Some(info) => {
                    out.insert(client, Arc::new(info));
                }
                None => tracing::warn!(channel, client, "undecodable presence entry; skipped"),
            }
        }
        Ok(out)
    }

    async fn stats(&self, channel: &str) -> Result<PresenceStats, BrokerError> {
        let members = self.presence(channel).await?;
        let users: HashSet<&str> = members.values().map(|i| i.user.as_str()).collect();
        Ok(PresenceStats {
            num_clients: members.len() as u32,
            num_users: users.len() as u32,
        })
    }
}
