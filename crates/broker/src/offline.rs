//! [`MemoryOffline`]: offline queues of one node, and the options every
//! [`OfflineStore`] applies.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::types::{BrokerError, Publication};
use crate::OfflineStore;

/// How a namespace keeps offline queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineQueueOptions {
    /// At most this many publications per user and channel (oldest dropped).
    pub size: usize,
    /// Publications older than this are dropped.
    pub ttl: Duration,
}

/// Total (user, channel) queues kept; past it, new queues are not started,
/// so publishing to made-up users cannot grow memory without bound.
const MAX_QUEUES: usize = 100_000;

/// (user, channel).
type Key = (String, String);

#[derive(Default)]
struct State {
    queues: HashMap<Key, VecDeque<Arc<Publication>>>,
    /// Connections subscribed, per (user, channel).
    subscribed: HashMap<Key, HashSet<String>>,
}

/// Offline queues kept in this process: right for one node, where every
/// subscription is known here.
#[derive(Default)]
pub struct MemoryOffline {
    state: Mutex<State>,
}

impl MemoryOffline {
    /// No queues, no subscriptions.
    pub fn new() -> Self {
        Self::default()
    }

    // std Mutex: map and deque work only, never across an await.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(user: &str, channel: &str) -> Key {
    (user.to_owned(), channel.to_owned())
}

#[async_trait]
impl OfflineStore for MemoryOffline {
    async fn subscribed(&self, channel: &str, user: &str, client: &str) -> Result<(), BrokerError> {
        self.state()
            .subscribed
            .entry(key(user, channel))
            .or_default()
            .insert(client.to_owned());
        Ok(())
    }

    async fn unsubscribed(
        &self,
        channel: &str,
        user: &str,
        client: &str,
    ) -> Result<(), BrokerError> {
        let mut state = self.state();
        let key = key(user, channel);
        if let Some(clients) = state.subscribed.get_mut(&key) {
            clients.remove(client);
            if clients.is_empty() {
                state.subscribed.remove(&key);
            }
        }
        Ok(())
    }

    async fn push(
        &self,
        channel: &str,
        users: &[&str],
        publication: Arc<Publication>,
        options: OfflineQueueOptions,
    ) -> Result<Vec<String>, BrokerError> {
        let mut state = self.state();
        let State { queues, subscribed } = &mut *state;
        let mut not_kept = Vec::new();
        for &user in users {
            let key = key(user, channel);
            if subscribed.contains_key(&key) {
                continue;
            }
            if !queues.contains_key(&key) && queues.len() >= MAX_QUEUES {
                not_kept.push(user.to_owned());
                continue;
            }
            let queue = queues.entry(key).or_default();
            queue.push_back(publication.clone());
            while queue.len() > options.size {
                queue.pop_front();
            }
        }
        Ok(not_kept)
    }

    async fn take(
        &self,
        channel: &str,
        user: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<Vec<Arc<Publication>>, BrokerError> {
        let Some(queue) = self.state().queues.remove(&key(user, channel)) else {
            return Ok(Vec::new());
        };
        Ok(fresh(queue, ttl, now_ms))
    }

    async fn pending(&self, user: &str) -> Result<usize, BrokerError> {
        Ok(self
            .state()
            .queues
            .iter()
            .filter(|((u, _), _)| u == user)
            .map(|(_, q)| q.len())
            .sum())
    }
}

/// The publications not older than `ttl` at `now_ms`, in order.
pub(crate) fn fresh(
    queue: impl IntoIterator<Item = Arc<Publication>>,
    ttl: Duration,
    now_ms: u64,
) -> Vec<Arc<Publication>> {
    let ttl = ttl.as_millis() as u64;
    queue
        .into_iter()
        .filter(|p| p.time_ms.saturating_add(ttl) > now_ms)
        .collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn publication(n: u64, time_ms: u64) -> Arc<Publication> {
        Arc::new(Publication {
            offset: 0,
            data: Bytes::from(n.to_string()),
            info: None,
            tags: Default::default(),
            time_ms,
        })
    }

    #[tokio::test]
    async fn bounded_by_size_and_age_and_taken_once() {
        let q = MemoryOffline::new();
        let options = OfflineQueueOptions {
            size: 3,
            ttl: Duration::from_millis(1000),
        };
        for n in 0..5 {
            let not_kept = q
                .push("p:x#alice", &["alice"], publication(n, n * 100), options)
                .await
                .unwrap();
            assert!(not_kept.is_empty());
        }
        assert_eq!(q.pending("alice").await.unwrap(), 3);
        let got = q
            .take("p:x#alice", "alice", options.ttl, 1250)
            .await
            .unwrap();
        // 2, 3, 4 kept by size; 2 (t=200) has expired at t=1250.
        assert_eq!(
            got.iter().map(|p| p.data.clone()).collect::<Vec<_>>(),
            ["3", "4"]
        );
        assert!(q
            .take("p:x#alice", "alice", options.ttl, 1250)
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn the_number_of_queues_is_bounded() {
        let q = MemoryOffline::new();
        let options = OfflineQueueOptions {
            size: 1,
            ttl: Duration::from_secs(60),
        };
        {
            let mut state = q.state();
            for n in 0..MAX_QUEUES {
                state
                    .queues
                    .insert(key(&n.to_string(), "c"), VecDeque::new());
            }
        }
        let not_kept = q
            .push("c", &["0", "new"], publication(1, 0), options)
            .await
            .unwrap();
        assert_eq!(not_kept, ["new"], "an existing queue still grows");
    }
}
