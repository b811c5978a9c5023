//! The broker, presence manager and offline store `[broker]` selects.

use std::sync::Arc;
use std::time::Duration;

use switchboard_broker::{
    Broker, BrokerError, MemoryBroker, MemoryOffline, MemoryPresence, OfflineStore,
    PresenceManager, RedisBroker, RedisOffline, RedisOptions, RedisPresence, DEFAULT_PRESENCE_TTL,
};
use switchboard_config::{BrokerConfig, BrokerKind};
use switchboard_hub::ChannelHub;
use tokio_util::sync::CancellationToken;

/// A connected broker, presence manager and offline store.
pub struct Backends {
    /// Publications and history.
    pub broker: Arc<dyn Broker>,
    /// Presence.
    pub presence: Arc<dyn PresenceManager>,
    /// Offline queues of user-limited channels.
    pub offline: Arc<dyn OfflineStore>,
    /// Presence entries (and offline-queue subscription entries) expire
    /// unless their node re-adds them (Redis); `None` for memory.
    pub presence_ttl: Option<Duration>,
    /// The node registry: presence on a reserved channel, with a short TTL.
    pub nodes: Arc<dyn PresenceManager>,
}

/// How often a node announces itself, and how long an announcement lives.
pub const NODE_ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
const NODE_TTL: Duration = Duration::from_secs(15);

/// Connects the configured backends; a Redis that cannot be reached is an
/// error at start rather than a server that fails every channel later,
/// unless `start_degraded` asks for the latter.
pub async fn connect(config: &BrokerConfig) -> Result<Backends, BrokerError> {
    match config.kind {
        BrokerKind::Memory => Ok(Backends {
            broker: Arc::new(MemoryBroker::new()),
            presence: Arc::new(MemoryPresence::new()),
            offline: Arc::new(MemoryOffline::new()),
            presence_ttl: None,
            nodes: Arc::new(MemoryPresence::new()),
        }),
        BrokerKind::Redis => {
            // Empty strings in the config mean "not set".
            let set = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let options = RedisOptions {
                urls: config.urls.clone(),
                cluster: config.cluster,
                username: set(&config.username),
                password: set(&config.password),
                tls_ca_file: set(&config.tls_ca_file).map(Into::into),
                tls_insecure: config.tls_insecure,
                ..RedisOptions::new(&config.url, &config.prefix)
            };
            let broker = if config.start_degraded {
                RedisBroker::connect_degraded(options).await?
            } else {
                RedisBroker::connect(options).await?
            };
            let presence = RedisPresence::from_broker(&broker);
            // Same TTL as presence: one refresh loop keeps both alive.
            let offline = RedisOffline::from_broker(&broker).with_ttl(DEFAULT_PRESENCE_TTL);
            let nodes = RedisPresence::from_broker(&broker).with_ttl(NODE_TTL);
            Ok(Backends {
                broker: Arc::new(broker),
                presence: Arc::new(presence),
                offline: Arc::new(offline),
                presence_ttl: Some(DEFAULT_PRESENCE_TTL),
                nodes: Arc::new(nodes),
            })
        }
    }
}

/// Re-adds this node's presence (and offline-queue subscription) entries
/// well within their TTL, so they outlive a quiet connection but vanish
/// when the node dies.
pub async fn refresh_presence(channels: ChannelHub, ttl: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(ttl / 3);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => channels.refresh_presence().await,
        }
    }
}
