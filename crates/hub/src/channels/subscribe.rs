//! Subscribing a connection: without gap or duplicate, with the offline
//! queue of a user-limited channel handed out after the reply; and the
//! server API's subscriptions, made and ended for a connection.

use std::sync::Arc;

use switchboard_broker::{
    now_ms, BrokerError, HistoryQuery, OfflineQueueOptions, Publication, StreamPosition,
};
use switchboard_transport::OutMessage;

use super::encode::{publication_frame, subscribe_push, unsubscribe_push};
use super::fanout::{Channel, Subscriber};
use super::hub::{ChannelError, ChannelHub, Subscribed, SubscriberRef};
use super::offline::{after_reply, channel_users, queue_of};
use super::options::ChannelOptions;
use crate::registry::ConnectionId;

impl ChannelHub {
    /// Subscribes a connection. `reply` builds the subscribe reply from the
    /// outcome; it is queued before any publication of the channel, and
    /// publications that arrived while history was read follow it, without
    /// gap or duplicate. For a user-limited channel with offline queues,
    /// what was kept for the user while subscribed nowhere comes first.
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
        let offline = queue_of(&options, channel);
        // Taken before the channel's lock (the store may be remote), so
        // publications can be both in the queue and buffered: `after_reply`
        // sends each once.
        let mut queued = match offline {
            Some(queue) => match self.take_offline(channel, &who, queue).await {
                Ok(queued) => Some(queued),
                Err(err) => {
                    self.remove_subscriber(who.id, channel).await;
                    self.offline_unsubscribed(channel, &who.info.user, &who.info.client)
                        .await;
                    return Err(err.into());
                }
            },
            None => None,
        };
        let message = reply(&outcome);
        let top = outcome
            .publications
            .last()
            .map(|p| p.offset)
            .max(outcome.position.as_ref().map(|p| p.offset))
            .unwrap_or(0);
        // The offsets the client has, or need not get, after the reply. A
        // user with a queue has not seen what was published before the
        // history read unless the reply holds it.
        let floor = match &queued {
            Some(_) if !outcome.recovered => outcome.publications.last().map_or(0, |p| p.offset),
            _ => top,
        };
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
                    let buffered = sub.pending.take().unwrap_or_default();
                    let queued = queued.take().unwrap_or_default();
                    for publication in after_reply(queued, buffered, floor) {
                        if let Some(frame) = publication_frame(channel, &publication) {
                            let _ = sub.outbound.send(frame);
                        }
                    }
                    true
                }
            }
        };
        if !live {
            self.remove_subscriber(who.id, channel).await;
            if let Some(queue) = offline {
                self.offline_unsubscribed(channel, &who.info.user, &who.info.client)
                    .await;
                let queued = queued.unwrap_or_default();
                self.requeue(channel, &who.info.user, queued, queue).await;
            }
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

    /// Ends a subscription whose token expired, with an `unsubscribe` push
    /// (2501) that makes the SDKs subscribe again with a fresh token.
    pub async fn expire_subscription(&self, id: ConnectionId, channel: &str) -> bool {
        let code = switchboard_protocol::client::unsubscribe::EXPIRED;
        self.unsubscribe_with_push(id, channel, code, "subscription expired")
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

    /// Records the subscription (so no node queues for this user any
    /// more), then takes what was queued before.
    async fn take_offline(
        &self,
        channel: &str,
        who: &SubscriberRef<'_>,
        queue: OfflineQueueOptions,
    ) -> Result<Vec<Arc<Publication>>, BrokerError> {
        let (user, client) = (who.info.user.as_str(), who.info.client.as_str());
        let offline = &self.inner.offline;
        offline.subscribed(channel, user, client).await?;
        offline.take(channel, user, queue.ttl, now_ms()).await
    }

    /// Puts back a queue taken by a subscribe that then failed, so the
    /// user's next subscribe still gets it.
    async fn requeue(
        &self,
        channel: &str,
        user: &str,
        queued: Vec<Arc<Publication>>,
        queue: OfflineQueueOptions,
    ) {
        for publication in queued {
            let kept = self
                .inner
                .offline
                .push(channel, &[user], publication, queue)
                .await;
            if let Err(err) = kept {
                tracing::warn!(channel, user, error = %err, "offline queue not restored");
                return;
            }
        }
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
}
