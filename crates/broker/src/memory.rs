//! In-memory broker and presence: one node, nothing survives a restart
//! (each start is a new epoch for every channel).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};

use crate::history::Stream;
use crate::types::{
    BrokerError, ClientInfo, HistoryOptions, HistoryPage, HistoryQuery, PresenceStats, Publication,
    StreamPosition,
};
use crate::{now_ms, Broker, BrokerHandler, ControlHandler, PresenceManager};

const SHARDS: usize = 16;

fn new_epoch() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 8)
}

// std Mutex: held for map work and for the (non-blocking) handler call that
// keeps per-channel delivery in offset order; never across an await.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Channels' streams and delivery to this node's hub.
pub struct MemoryBroker {
    shards: Box<[Mutex<HashMap<String, Stream>>]>,
    hasher: std::collections::hash_map::RandomState,
    handler: OnceLock<Arc<dyn BrokerHandler>>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            handler: OnceLock::new(),
        }
    }
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, channel: &str) -> MutexGuard<'_, HashMap<String, Stream>> {
        lock(&self.shards[(self.hasher.hash_one(channel) as usize) % SHARDS])
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    fn set_handler(&self, handler: Arc<dyn BrokerHandler>) {
        let _ = self.handler.set(handler);
    }

    async fn publish(
        &self,
        channel: &str,
        publication: Publication,
        history: Option<HistoryOptions>,
    ) -> Result<StreamPosition, BrokerError> {
        let mut shard = self.shard(channel);
        let (publication, position) = match history {
            Some(options) => {
                let stream = shard
                    .entry(channel.to_owned())
                    .or_insert_with(|| Stream::new(new_epoch()));
                let publication = stream.append(publication, &options);
                (publication, stream.position())
            }
            None => (Arc::new(publication), StreamPosition::default()),
        };
        // Delivered under the shard lock: two publishes to one channel reach
        // subscribers in offset order.
        if let Some(handler) = self.handler.get() {
            handler.on_publication(channel, publication, &position);
        }
        Ok(position)
    }

    async fn publish_join(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let _order = self.shard(channel);
        if let Some(handler) = self.handler.get() {
            handler.on_join(channel, info);
        }
        Ok(())
    }

    async fn publish_leave(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let _order = self.shard(channel);
        if let Some(handler) = self.handler.get() {
            handler.on_leave(channel, info);
        }
        Ok(())
    }

    async fn join_control(
        &self,
        _node: &str,
        _handler: Arc<dyn ControlHandler>,
    ) -> Result<(), BrokerError> {
        Ok(()) // one node: no other node ever sends
    }

    async fn publish_control(&self, _to: Option<&str>, _message: Bytes) -> Result<(), BrokerError> {
        Ok(()) // one node: nobody to send to
    }

    async fn subscribe(&self, _channel: &str) -> Result<(), BrokerError> {
        Ok(()) // one node: every publication already reaches the handler
    }

    async fn unsubscribe(&self, _channel: &str) -> Result<(), BrokerError> {
        Ok(())
    }

    async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
        history: HistoryOptions,
    ) -> Result<HistoryPage, BrokerError> {
        let mut shard = self.shard(channel);
        let stream = shard
            .entry(channel.to_owned())
            .or_insert_with(|| Stream::new(new_epoch()));
        stream.trim(&history, now_ms());
        stream.read(query)
    }

    async fn remove_history(&self, channel: &str) -> Result<(), BrokerError> {
        if let Some(stream) = self.shard(channel).get_mut(channel) {
            stream.clear();
        }
        Ok(())
    }
}

/// Presence kept in this process.
#[derive(Default)]
pub struct MemoryPresence {
    channels: Mutex<HashMap<String, HashMap<String, Arc<ClientInfo>>>>,
}

impl MemoryPresence {
    /// Empty presence.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl PresenceManager for MemoryPresence {
    async fn add(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let mut channels = lock(&self.channels);
        channels
            .entry(channel.to_owned())
            .or_default()
            .insert(info.client.clone(), info);
        Ok(())
    }

    async fn remove(&self, channel: &str, client: &str) -> Result<(), BrokerError> {
        let mut channels = lock(&self.channels);
        if let Some(members) = channels.get_mut(channel) {
            members.remove(client);
            if members.is_empty() {
                channels.remove(channel);
            }
        }
        Ok(())
    }

    async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, Arc<ClientInfo>>, BrokerError> {
        Ok(lock(&self.channels)
            .get(channel)
            .cloned()
            .unwrap_or_default())
    }

    async fn stats(&self, channel: &str) -> Result<PresenceStats, BrokerError> {
        let channels = lock(&self.channels);
        let Some(members) = channels.get(channel) else {
            return Ok(PresenceStats::default());
        };
        let users: HashSet<&str> = members.values().map(|i| i.user.as_str()).collect();
        Ok(PresenceStats {
            num_clients: members.len() as u32,
            num_users: users.len() as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;

    struct Recorder(Mutex<Vec<u64>>);
    impl BrokerHandler for Recorder {
        fn on_publication(&self, _: &str, p: Arc<Publication>, _: &StreamPosition) {
            lock(&self.0).push(p.offset);
        }
        fn on_join(&self, _: &str, _: Arc<ClientInfo>) {}
        fn on_leave(&self, _: &str, _: Arc<ClientInfo>) {}
    }

    fn publication() -> Publication {
        Publication {
            offset: 0,
            data: Bytes::from_static(b"{}"),
            info: None,
            tags: Default::default(),
            time_ms: now_ms(),
        }
    }

    #[tokio::test]
    async fn publishes_in_offset_order_and_reads_history() {
        let broker = MemoryBroker::new();
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        broker.set_handler(recorder.clone());
        let opts = HistoryOptions {
            size: 10,
            ttl: Duration::from_secs(60),
        };
        let mut epoch = String::new();
        for n in 1..=3 {
            let pos = broker
                .publish("chat", publication(), Some(opts))
                .await
                .unwrap();
            assert_eq!(pos.offset, n);
            epoch = pos.epoch;
        }
        assert_eq!(*lock(&recorder.0), vec![1, 2, 3]);
        let page = broker
            .history("chat", &HistoryQuery::default(), opts)
            .await
            .unwrap();
        assert_eq!(page.publications.len(), 3);
        assert_eq!(page.position.epoch, epoch);
        broker.remove_history("chat").await.unwrap();
        let page = broker
            .history("chat", &HistoryQuery::default(), opts)
            .await
            .unwrap();
        assert!(page.publications.is_empty());
        assert_eq!(page.position.offset, 3, "offsets carry on after removal");
    }

    #[tokio::test]
    async fn presence_counts_users_once() {
        let presence = MemoryPresence::new();
        for (client, user) in [("c1", "u1"), ("c2", "u1"), ("c3", "u2")] {
            let info = ClientInfo {
                user: user.into(),
                client: client.into(),
                ..Default::default()
            };
            presence.add("room", Arc::new(info)).await.unwrap();
        }
        assert_eq!(
            presence.stats("room").await.unwrap(),
            PresenceStats {
                num_clients: 3,
                num_users: 2
            }
        );
        presence.remove("room", "c2").await.unwrap();
        assert_eq!(presence.presence("room").await.unwrap().len(), 2);
    }
}
