//! Per-user offline queues for user-limited channels (`ns:name#alice,bob`):
//! publications to such a channel while a listed user is not subscribed to
//! it (offline, or connected but not subscribed yet) are kept, bounded in
//! count and age, and delivered in order when that user next subscribes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_broker::Publication;

/// How a namespace keeps offline queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineQueueOptions {
    /// At most this many publications per user and channel (oldest dropped).
    pub size: usize,
    /// Publications older than this are dropped.
    pub ttl: Duration,
}

/// The users a user-limited channel is for: what follows its last `#`,
/// comma-separated; `None` for an ordinary channel.
pub fn channel_users(channel: &str) -> Option<impl Iterator<Item = &str>> {
    let (_, users) = channel.rsplit_once('#')?;
    Some(users.split(',').filter(|u| !u.is_empty()))
}

/// Total (user, channel) queues kept; past it, new queues are not started,
/// so publishing to made-up users cannot grow memory without bound.
const MAX_QUEUES: usize = 100_000;

type Key = (String, String);

/// All offline queues of this node.
#[derive(Default)]
pub struct OfflineQueues {
    queues: Mutex<HashMap<Key, VecDeque<Arc<Publication>>>>,
}

impl OfflineQueues {
    // std Mutex: map and deque work only.
    fn queues(&self) -> MutexGuard<'_, HashMap<Key, VecDeque<Arc<Publication>>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a publication for `user`; returns false when it was not kept
    /// (the queue limit on the number of queues was reached).
    pub fn push(
        &self,
        user: &str,
        channel: &str,
        publication: Arc<Publication>,
        options: OfflineQueueOptions,
    ) -> bool {
        let mut queues = self.queues();
        let key = (user.to_owned(), channel.to_owned());
        if !queues.contains_key(&key) && queues.len() >= MAX_QUEUES {
            return false;
        }
        let queue = queues.entry(key).or_default();
        queue.push_back(publication);
        while queue.len() > options.size {
            queue.pop_front();
        }
        true
    }

    /// Takes `user`'s queue for `channel`, without publications older than `ttl` at `now_ms`.
    pub fn take(
        &self,
        user: &str,
        channel: &str,
        ttl: Duration,
        now_ms: u64,
    ) -> Vec<Arc<Publication>> {
        let key = (user.to_owned(), channel.to_owned());
        let Some(queue) = self.queues().remove(&key) else {
            return Vec::new();
        };
        let ttl = ttl.as_millis() as u64;
        queue
            .into_iter()
            .filter(|p| p.time_ms.saturating_add(ttl) > now_ms)
            .collect()
    }

    /// Publications waiting for `user`, over all channels.
    pub fn pending(&self, user: &str) -> usize {
        self.queues()
            .iter()
            .filter(|((u, _), _)| u == user)
            .map(|(_, q)| q.len())
            .sum()
    }
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

    #[test]
    fn user_lists() {
        let users: Vec<_> = channel_users("personal:inbox#alice,bob").unwrap().collect();
        assert_eq!(users, ["alice", "bob"]);
        assert!(channel_users("chat:room").is_none());
    }

    #[test]
    fn bounded_by_size_and_age_and_taken_once() {
        let q = OfflineQueues::default();
        let options = OfflineQueueOptions {
            size: 3,
            ttl: Duration::from_millis(1000),
        };
        for n in 0..5 {
            q.push("alice", "p:x#alice", publication(n, n * 100), options);
        }
        assert_eq!(q.pending("alice"), 3);
        let got = q.take("alice", "p:x#alice", options.ttl, 1250);
        // 2, 3, 4 kept by size; 2 (t=200) has expired at t=1250.
        assert_eq!(
            got.iter().map(|p| p.data.clone()).collect::<Vec<_>>(),
            ["3", "4"]
        );
        assert!(q.take("alice", "p:x#alice", options.ttl, 1250).is_empty());
    }
}
