//! The channel operations sessions and the server API call.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use switchboard_broker::{
    now_ms, Broker, BrokerError, BrokerHandler, ClientInfo, HistoryPage, HistoryQuery,
    OfflineStore, PresenceManager, PresenceStats, Publication, StreamPosition,
};
use switchboard_transport::Outbound;

use super::fanout::Fanout;
use super::gaps::fill_gaps;
use super::members::Members;
use super::offline::{channel_users, queue_of};
use super::options::{ChannelOptions, OptionsResolver};
use crate::registry::ConnectionId;

/// Why a channel operation was refused. The session and the API map each
/// to its protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel's namespace does not exist (102).
    #[error("unknown channel")]
    UnknownChannel,
    /// The namespace does not allow this for clients (103).
    #[error("permission denied")]
    PermissionDenied,
    /// Already subscribed on this connection (105).
    #[error("already subscribed")]
    AlreadySubscribed,
    /// `max_subscribers` reached (106).
    #[error("limit exceeded")]
    LimitExceeded,
    /// The channel keeps no history or presence (108).
    #[error("not available")]
    NotAvailable,
    /// History cannot serve the asked position (112).
    #[error("unrecoverable position")]
    UnrecoverablePosition,
    /// Too many publications arrived while subscribing; the client must
    /// subscribe again (disconnect 3010 / unsubscribe 2500).
    #[error("insufficient state")]
    InsufficientState,
    /// The broker failed (100, temporary).
    #[error("{0}")]
    Broker(String),
}

impl From<BrokerError> for ChannelError {
    fn from(err: BrokerError) -> Self {
        match err {
            BrokerError::UnrecoverablePosition => Self::UnrecoverablePosition,
            BrokerError::Unavailable(msg) => Self::Broker(msg),
        }
    }
}

/// What a subscribe established.
#[derive(Debug, Clone, Default)]
pub struct Subscribed {
    /// The channel keeps history and the client may recover.
    pub recoverable: bool,
    /// The stream position (history channels).
    pub position: Option<StreamPosition>,
    /// Recovered or last-value publications, oldest first.
    pub publications: Vec<Arc<Publication>>,
    /// The client asked to recover.
    pub was_recovering: bool,
    /// Everything missed was recovered.
    pub recovered: bool,
}

/// A channel with subscribers on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSummary {
    /// Its name.
    pub name: String,
    /// Subscribers on this node.
    pub num_clients: usize,
}

pub(crate) struct Inner {
    pub(crate) fanout: Arc<Fanout>,
    pub(crate) broker: Arc<dyn Broker>,
    pub(super) presence: Arc<dyn PresenceManager>,
    resolver: OptionsResolver,
    pub(super) offline: Arc<dyn OfflineStore>,
    pub(super) members: Members,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.fanout.gaps.close();
    }
}

/// Channel operations; a cheap handle.
#[derive(Clone)]
pub struct ChannelHub {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ChannelHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelHub").finish_non_exhaustive()
    }
}

/// The subscriber a subscribe concerns.
pub struct SubscriberRef<'a> {
    /// Connection id.
    pub id: ConnectionId,
    /// Its send queue.
    pub outbound: &'a Outbound,
    /// Its presence info.
    pub info: &'a Arc<ClientInfo>,
}

impl ChannelHub {
    /// A hub over `broker`, `presence` and the `offline` queues; registers
    /// itself as the broker's handler and starts the task that fills gaps
    /// in live delivery from history (so it must be called within a Tokio
    /// runtime).
    pub fn new(
        broker: Arc<dyn Broker>,
        presence: Arc<dyn PresenceManager>,
        offline: Arc<dyn OfflineStore>,
        resolver: OptionsResolver,
    ) -> Self {
        let fanout = Arc::new(Fanout::default());
        broker.set_handler(fanout.clone() as Arc<dyn BrokerHandler>);
        let inner = Arc::new(Inner {
            fanout: fanout.clone(),
            broker,
            presence,
            resolver,
            offline,
            members: Members::default(),
        });
        tokio::spawn(fill_gaps(Arc::downgrade(&inner), fanout));
        Self { inner }
    }

    /// The options of `channel`.
    pub fn options(&self, channel: &str) -> Result<ChannelOptions, ChannelError> {
        (self.inner.resolver)(channel).ok_or(ChannelError::UnknownChannel)
    }

    pub(super) async fn remove_subscriber(
        &self,
        id: ConnectionId,
        channel: &str,
    ) -> Option<ChannelOptions> {
        let (options, last) = {
            let mut shard = self.inner.fanout.shard(channel);
            let ch = shard.get_mut(channel)?;
            ch.subscribers.remove(&id)?;
            let options = ch.options.clone();
            let last = ch.subscribers.is_empty();
            if last {
                shard.remove(channel);
            }
            (options, last)
        };
        if last {
            if let Err(err) = self.inner.broker.unsubscribe(channel).await {
                tracing::warn!(channel, error = %err, "broker unsubscribe failed");
            }
        }
        Some(options)
    }

    /// Unsubscribes a connection; returns whether it was subscribed.
    pub async fn unsubscribe(
        &self,
        id: ConnectionId,
        info: &Arc<ClientInfo>,
        channel: &str,
    ) -> bool {
        self.inner.members.remove(&id, channel);
        let offline = {
            let shard = self.inner.fanout.shard(channel);
            let ch = shard
                .get(channel)
                .filter(|ch| ch.subscribers.contains_key(&id));
            ch.and_then(|ch| queue_of(&ch.options, channel))
        };
        // Before leaving the fan-out: a publication in between is then
        // delivered and queued, rather than neither.
        if offline.is_some() {
            self.offline_unsubscribed(channel, &info.user, &info.client)
                .await;
        }
        let Some(options) = self.remove_subscriber(id, channel).await else {
            return false;
        };
        if options.presence {
            let _ = self.inner.presence.remove(channel, &info.client).await;
        }
        if options.join_leave {
            let _ = self.inner.broker.publish_leave(channel, info.clone()).await;
        }
        true
    }

    /// Publishes into a channel: the one path for clients and the server
    /// API. `data` must be JSON text. With `skip_history` the publication is
    /// delivered but not kept.
    pub async fn publish(
        &self,
        channel: &str,
        data: Bytes,
        info: Option<Arc<ClientInfo>>,
        tags: BTreeMap<String, String>,
        skip_history: bool,
    ) -> Result<StreamPosition, ChannelError> {
        let options = self.options(channel)?;
        let publication = Publication {
            offset: 0,
            data,
            info,
            tags,
            time_ms: now_ms(),
        };
        let history = options.history.filter(|_| !skip_history);
        let kept = publication.clone();
        let position = self
            .inner
            .broker
            .publish(channel, publication, history)
            .await?;
        if let (Some(queue), Some(users)) = (options.offline_queue, channel_users(channel)) {
            let kept = Arc::new(Publication {
                offset: if history.is_some() {
                    position.offset
                } else {
                    0
                },
                ..kept
            });
            // Kept for every listed user with no subscription to the channel
            // on any node: offline, or connected but not subscribed yet.
            let users: Vec<&str> = users.collect();
            match self.inner.offline.push(channel, &users, kept, queue).await {
                Ok(not_kept) => {
                    for user in not_kept {
                        tracing::warn!(
                            channel,
                            user,
                            "offline queue limit reached; publication not kept"
                        );
                    }
                }
                // Published already: failing the call would make publishers
                // retry, delivering it twice to everyone subscribed.
                Err(err) => {
                    tracing::warn!(channel, error = %err, "publication not kept in offline queues")
                }
            }
        }
        Ok(position)
    }

    /// Who is present.
    pub async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, Arc<ClientInfo>>, ChannelError> {
        if !self.options(channel)?.presence {
            return Err(ChannelError::NotAvailable);
        }
        Ok(self.inner.presence.presence(channel).await?)
    }

    /// Presence counts.
    pub async fn presence_stats(&self, channel: &str) -> Result<PresenceStats, ChannelError> {
        if !self.options(channel)?.presence {
            return Err(ChannelError::NotAvailable);
        }
        Ok(self.inner.presence.stats(channel).await?)
    }

    /// Reads history.
    pub async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, ChannelError> {
        let history = self
            .options(channel)?
            .history
            .ok_or(ChannelError::NotAvailable)?;
        Ok(self.inner.broker.history(channel, query, history).await?)
    }

    /// Removes a channel's history.
    pub async fn remove_history(&self, channel: &str) -> Result<(), ChannelError> {
        self.options(channel)?;
        Ok(self.inner.broker.remove_history(channel).await?)
    }

    /// Makes a `channels` connection known, so the server API can reach its
    /// subscriptions.
    pub fn attach(&self, id: ConnectionId, outbound: Outbound, info: Arc<ClientInfo>) {
        self.inner.members.attach(id, outbound, info);
    }

    /// Forgets a connection and leaves every channel it was in.
    pub async fn detach(&self, id: ConnectionId) {
        let Some(member) = self.inner.members.detach(&id) else {
            return;
        };
        for channel in &member.channels {
            self.unsubscribe(id, &member.info, channel).await;
        }
    }

    /// Whether the connection is subscribed to `channel`.
    pub fn is_subscribed(&self, id: &ConnectionId, channel: &str) -> bool {
        self.inner.members.contains(id, channel)
    }

    /// How many channels the connection is subscribed to.
    pub fn subscription_count(&self, id: &ConnectionId) -> usize {
        self.inner.members.count(id)
    }

    /// Re-adds the presence of every connection of this node in every
    /// channel with presence, and its subscriptions to channels with offline
    /// queues (stores with expiring entries need it).
    pub async fn refresh_presence(&self) {
        for (channel, info) in self.inner.members.memberships() {
            let Ok(options) = self.options(&channel) else {
                continue;
            };
            // Still subscribed (the list is a snapshot): re-adding the entry
            // of a connection that left meanwhile would keep publications
            // out of the user's queue until the entry expired.
            let still = |id: ConnectionId| self.inner.members.contains(&id, &channel);
            let still = info.client.parse().is_ok_and(still);
            if still && queue_of(&options, &channel).is_some() {
                let offline = &self.inner.offline;
                if let Err(err) = offline.subscribed(&channel, &info.user, &info.client).await {
                    tracing::warn!(channel, error = %err, "offline subscription refresh failed");
                }
            }
            if options.presence {
                if let Err(err) = self.inner.presence.add(&channel, info).await {
                    tracing::warn!(channel, error = %err, "presence refresh failed");
                }
            }
        }
    }

    /// Tells the offline store a connection left a channel; on failure its
    /// entry stays until it expires (the store's TTL), and is logged.
    pub(super) async fn offline_unsubscribed(&self, channel: &str, user: &str, client: &str) {
        if let Err(err) = self.inner.offline.unsubscribed(channel, user, client).await {
            tracing::warn!(channel, user, error = %err, "offline unsubscribe failed");
        }
    }

    /// Publications waiting in `user`'s offline queues (on every node).
    pub async fn offline_pending(&self, user: &str) -> Result<usize, ChannelError> {
        Ok(self.inner.offline.pending(user).await?)
    }

    /// Channels with subscribers on this node, sorted by name.
    pub fn channels(&self) -> Vec<ChannelSummary> {
        let mut out = Vec::new();
        self.inner.fanout.for_each_channel(|name, ch| {
            out.push(ChannelSummary {
                name: name.to_owned(),
                num_clients: ch.subscribers.len(),
            })
        });
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
