//! The broker's view of this node: who is subscribed to what, and the
//! callback that delivers each publication to them.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_broker::{BrokerHandler, ClientInfo, Publication, StreamPosition};
use switchboard_transport::Outbound;

use super::encode::{presence_frame, publication_frame};
use super::options::ChannelOptions;
use super::RECOVERY_BUFFER_LIMIT;
use crate::registry::ConnectionId;

pub(crate) struct Subscriber {
    pub outbound: Outbound,
    /// The subscriber's user ("" for anonymous), for user-limited channels.
    pub user: Arc<str>,
    /// While the subscribe reads history, publications wait here so none
    /// is lost or sent before the subscribe reply.
    pub pending: Option<Vec<Arc<Publication>>>,
    /// The buffer hit its limit: the subscribe must fail.
    pub overflowed: bool,
}

pub(crate) struct Channel {
    pub options: ChannelOptions,
    pub subscribers: HashMap<ConnectionId, Subscriber>,
}

const SHARDS: usize = 32;

/// Channel subscriptions of this node, sharded by channel name.
pub struct Fanout {
    shards: Box<[Mutex<HashMap<String, Channel>>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for Fanout {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }
}

impl Fanout {
    // std Mutex: map work and non-blocking queue pushes only.
    pub(crate) fn shard(&self, channel: &str) -> MutexGuard<'_, HashMap<String, Channel>> {
        let index = (self.hasher.hash_one(channel) as usize) % SHARDS;
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user` has a subscription to `channel` on this node.
    pub(crate) fn has_subscriber(&self, channel: &str, user: &str) -> bool {
        self.shard(channel)
            .get(channel)
            .is_some_and(|ch| ch.subscribers.values().any(|s| &*s.user == user))
    }

    pub(crate) fn for_each_channel(&self, mut f: impl FnMut(&str, &Channel)) {
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (name, channel) in shard.iter() {
                f(name, channel);
            }
        }
    }
}

impl BrokerHandler for Fanout {
    fn on_publication(
        &self,
        channel: &str,
        publication: Arc<Publication>,
        _position: &StreamPosition,
    ) {
        let mut shard = self.shard(channel);
        let Some(ch) = shard.get_mut(channel) else {
            return;
        };
        let Some(frame) = publication_frame(channel, &publication) else {
            tracing::warn!(channel, "publication data is not JSON; not delivered");
            return;
        };
        let skip: Option<ConnectionId> = match ch.options.echo_to_publisher {
            true => None,
            false => publication
                .info
                .as_ref()
                .and_then(|i| i.client.parse().ok()),
        };
        for (id, sub) in ch.subscribers.iter_mut() {
            if Some(*id) == skip {
                continue;
            }
            match &mut sub.pending {
                Some(buffer) if buffer.len() < RECOVERY_BUFFER_LIMIT => {
                    buffer.push(publication.clone())
                }
                Some(_) => sub.overflowed = true,
                // A full queue is the outbound policy's business (close or drop).
                None => {
                    let _ = sub.outbound.send(frame.clone());
                }
            }
        }
    }

    fn on_join(&self, channel: &str, info: Arc<ClientInfo>) {
        self.presence_event(channel, &info, false);
    }

    fn on_leave(&self, channel: &str, info: Arc<ClientInfo>) {
        self.presence_event(channel, &info, true);
    }
}

impl Fanout {
    fn presence_event(&self, channel: &str, info: &ClientInfo, leave: bool) {
        let shard = self.shard(channel);
        let Some(ch) = shard.get(channel) else {
            return;
        };
        if !ch.options.join_leave {
            return;
        }
        let frame = presence_frame(channel, info, leave);
        for sub in ch.subscribers.values().filter(|s| s.pending.is_none()) {
            let _ = sub.outbound.send(frame.clone());
        }
    }
}
