//! The channel operations sessions and the server API call.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use switchboard_broker::{
    now_ms, Broker, BrokerError, BrokerHandler, ClientInfo, HistoryPage, HistoryQuery,
    PresenceManager, PresenceStats, Publication, StreamPosition,
};
use switchboard_transport::{OutMessage, Outbound};

use super::encode::publication_frame;
use super::encode::{subscribe_push, unsubscribe_push};
use super::fanout::{Channel, Fanout, Subscriber};
use super::gaps::fill_gaps;
use super::members::Members;
use super::offline::{channel_users, OfflineQueues};
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
    presence: Arc<dyn PresenceManager>,
    resolver: OptionsResolver,
    offline: OfflineQueues,
    members: Members,
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
    /// A hub over `broker` and `presence`; registers itself as the
    /// broker's handler and starts the task that fills gaps in live
    /// delivery from history (so it must be called within a Tokio runtime).
    pub fn new(
        broker: Arc<dyn Broker>,
        presence: Arc<dyn PresenceManager>,
        resolver: OptionsResolver,
    ) -> Self {
        let fanout = Arc::new(Fanout::default());
        broker.set_handler(fanout.clone() as Arc<dyn BrokerHandler>);
        let inner = Arc::new(Inner {
            fanout: fanout.clone(),
            broker,
            presence,
            resolver,
            offline: OfflineQueues::default(),
            members: Members::default(),
        });
        tokio::spawn(fill_gaps(Arc::downgrade(&inner), fanout));
        Self { inner }
    }

    /// The options of `channel`.
    pub fn options(&self, channel: &str) -> Result<ChannelOptions, ChannelError> {
        (self.inner.resolver)(channel).ok_or(ChannelError::UnknownChannel)
    }

    /// Subscribes a connection. `reply` builds the subscribe reply from the
    /// outcome; it is queued before any publication of the channel, and
    /// publications that arrived while history was read follow it, without
    /// gap or duplicate.
    pub async fn subscribe(
        &self,
        who: SubscriberRef<'_>,
        channel: &str,
        recover: Option<StreamPosition>,
        reply: impl FnOnce(&Subscribed) -> OutMessage,
    ) -> Result<Subscribed, ChannelError> {
        let options = self.options(channel)?;
        if let Some(mut users) = channel_users(channel) {
            let user = who.info.user.as_str();
            if user.is_empty() || !users.any(|u| u == user) {
                return Err(ChannelError::PermissionDenied);
            }
        }
        let first = {
            let mut shard = self.inner.fanout.shard(channel);
            let ch = shard
                .entry(channel.to_owned())
                .or_insert_with(|| Channel::new(options.clone()));
            if ch.subscribers.contains_key(&who.id) {
                return Err(ChannelError::AlreadySubscribed);
            }
            if options.max_subscribers > 0 && ch.subscribers.len() >= options.max_subscribers {
                if ch.subscribers.is_empty() {
                    shard.remove(channel);
                }
                return Err(ChannelError::LimitExceeded);
            }
            let subscriber = Subscriber {
                outbound: who.outbound.clone(),
                user: Arc::from(who.info.user.as_str()),
                pending: Some(Vec::new()),
                overflowed: false,
            };
            ch.subscribers.insert(who.id, subscriber);
            ch.subscribers.len() == 1
        };
        let outcome = self.establish(channel, &options, first, recover).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => {
                self.remove_subscriber(who.id, channel).await;
                return Err(err);
            }
        };
        let message = reply(&outcome);
        let top = outcome
            .publications
            .last()
            .map(|p| p.offset)
            .max(outcome.position.as_ref().map(|p| p.offset))
            .unwrap_or(0);
        let live = {
            let mut shard = self.inner.fanout.shard(channel);
            let mut ch = shard.get_mut(channel);
            if let Some(ch) = ch.as_deref_mut() {
                // Live delivery starts where this read stood, unless
                // publications were already delivered (they are newer).
                if ch.position.is_none() {
                    ch.position = outcome
                        .position
                        .clone()
                        .map(|p| StreamPosition { offset: top, ..p });
                }
            }
            let sub = ch.and_then(|ch| ch.subscribers.get_mut(&who.id));
            match sub {
                None => false, // unsubscribed (or disconnected) meanwhile
                Some(sub) if sub.overflowed => false,
                Some(sub) => {
                    let _ = sub.outbound.send(message);
                    // Publications kept while the user was offline are
                    // older than anything buffered since, so they go first.
                    let offline = match options.offline_queue {
                        Some(q) => {
                            self.inner
                                .offline
                                .take(&who.info.user, channel, q.ttl, now_ms())
                        }
                        None => Vec::new(),
                    };
                    for publication in offline
                        .into_iter()
                        .chain(sub.pending.take().unwrap_or_default())
                    {
                        // Offsets are 0 without history: then everything buffered is new.
                        if publication.offset == 0 || publication.offset > top {
                            if let Some(frame) = publication_frame(channel, &publication) {
                                let _ = sub.outbound.send(frame);
                            }
                        }
                    }
                    true
                }
            }
        };
        if !live {
            self.remove_subscriber(who.id, channel).await;
            return Err(ChannelError::InsufficientState);
        }
        self.inner.members.add(&who.id, channel);
        if options.presence {
            self.inner.presence.add(channel, who.info.clone()).await?;
        }
        if options.join_leave {
            self.inner
                .broker
                .publish_join(channel, who.info.clone())
                .await?;
        }
        Ok(outcome)
    }

    async fn establish(
        &self,
        channel: &str,
        options: &ChannelOptions,
        first: bool,
        recover: Option<StreamPosition>,
    ) -> Result<Subscribed, ChannelError> {
        if first {
            self.inner.broker.subscribe(channel).await?;
        }
        let Some(history) = options.history else {
            return Ok(Subscribed::default());
        };
        let broker = &self.inner.broker;
        let mut outcome = Subscribed {
            recoverable: options.recovery,
            was_recovering: recover.is_some(),
            ..Subscribed::default()
        };
        if let Some(since) = recover.filter(|_| options.recovery) {
            let query = HistoryQuery {
                since: Some(since),
                limit: None,
                reverse: false,
            };
            match broker.history(channel, &query, history).await {
                Ok(page) => {
                    outcome.recovered = true;
                    outcome.publications = page.publications;
                    outcome.position = Some(page.position);
                    return Ok(outcome);
                }
                Err(BrokerError::UnrecoverablePosition) => {} // told below via recovered = false
                Err(err) => return Err(err.into()),
            }
        }
        let query = if options.last_value && !outcome.was_recovering {
            HistoryQuery {
                since: None,
                limit: Some(1),
                reverse: true,
            }
        } else {
            HistoryQuery {
                since: None,
                limit: Some(0),
                reverse: false,
            }
        };
        let page = broker.history(channel, &query, history).await?;
        outcome.publications = page.publications;
        outcome.position = Some(page.position);
        Ok(outcome)
    }

    async fn remove_subscriber(&self, id: ConnectionId, channel: &str) -> Option<ChannelOptions> {
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
            // here: offline, or connected but not subscribed yet.
            for user in users.filter(|u| !self.inner.fanout.has_subscriber(channel, u)) {
                if !self.inner.offline.push(user, channel, kept.clone(), queue) {
                    tracing::warn!(
                        channel,
                        user,
                        "offline queue limit reached; publication not kept"
                    );
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

    /// A server-side subscription (server API `subscribe`): the connection
    /// gets a `subscribe` push instead of a reply. `Ok(false)` when the
    /// connection is not a connected `channels` connection.
    pub async fn server_subscribe(
        &self,
        id: ConnectionId,
        channel: &str,
    ) -> Result<bool, ChannelError> {
        let Some((outbound, info)) = self.inner.members.get(&id) else {
            return Ok(false);
        };
        let who = SubscriberRef {
            id,
            outbound: &outbound,
            info: &info,
        };
        self.subscribe(who, channel, None, |outcome| {
            subscribe_push(channel, outcome)
        })
        .await?;
        Ok(true)
    }

    /// A server-side unsubscribe (server API `unsubscribe`): the connection
    /// gets an `unsubscribe` push (code 2000). Returns whether it was subscribed.
    pub async fn server_unsubscribe(&self, id: ConnectionId, channel: &str) -> bool {
        let code = switchboard_protocol::client::unsubscribe::SERVER;
        self.unsubscribe_with_push(id, channel, code, "server unsubscribe")
            .await
    }

    /// Unsubscribes a connection and tells it with an `unsubscribe` push.
    pub(crate) async fn unsubscribe_with_push(
        &self,
        id: ConnectionId,
        channel: &str,
        code: u32,
        reason: &str,
    ) -> bool {
        let Some((outbound, info)) = self.inner.members.get(&id) else {
            return false;
        };
        if !self.unsubscribe(id, &info, channel).await {
            return false;
        }
        let _ = outbound.send(unsubscribe_push(channel, code, reason));
        true
    }

    /// Re-adds the presence of every connection of this node in every
    /// channel with presence (presence managers with expiring entries need it).
    pub async fn refresh_presence(&self) {
        for (channel, info) in self.inner.members.memberships() {
            if self.options(&channel).is_ok_and(|o| o.presence) {
                if let Err(err) = self.inner.presence.add(&channel, info).await {
                    tracing::warn!(channel, error = %err, "presence refresh failed");
                }
            }
        }
    }

    /// Publications waiting in `user`'s offline queues.
    pub fn offline_pending(&self, user: &str) -> usize {
        self.inner.offline.pending(user)
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
