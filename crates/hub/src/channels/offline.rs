//! Offline queues of user-limited channels (`ns:name#alice,bob`), hub
//! side. The queues and the subscriptions that decide them live in the
//! broker layer's [`OfflineStore`](switchboard_broker::OfflineStore)
//! (shared by every node with Redis); here is which users a channel is for
//! and how a subscribe merges a taken queue with the publications that
//! arrived while it was being set up.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
pub use switchboard_broker::OfflineQueueOptions;
use switchboard_broker::Publication;

use super::options::ChannelOptions;

/// The users a user-limited channel is for: what follows its last `#`,
/// comma-separated; `None` for an ordinary channel.
pub fn channel_users(channel: &str) -> Option<impl Iterator<Item = &str>> {
    let (_, users) = channel.rsplit_once('#')?;
    Some(users.split(',').filter(|u| !u.is_empty()))
}

/// How `channel` keeps offline queues: `Some` for a user-limited channel
/// whose namespace keeps them.
pub(crate) fn queue_of(options: &ChannelOptions, channel: &str) -> Option<OfflineQueueOptions> {
    options
        .offline_queue
        .filter(|_| channel_users(channel).is_some())
}

/// What follows a subscribe reply: the taken offline queue, then the
/// publications buffered during the subscribe, without duplicates.
///
/// A publication with an offset is sent only if it is newer than the last
/// one sent (starting from `floor`, what the reply already covers), so a
/// history channel never repeats one. The queue may hold a publication
/// that was also buffered (published during the subscribe, queued before
/// the subscription was recorded); without offsets, a buffered publication
/// equal to one from the queue is that one, and is skipped once.
pub(crate) fn after_reply(
    queued: Vec<Arc<Publication>>,
    buffered: Vec<Arc<Publication>>,
    floor: u64,
) -> Vec<Arc<Publication>> {
    let mut last = floor;
    let mut out = Vec::with_capacity(queued.len() + buffered.len());
    let mut from_queue: HashMap<(u64, Bytes), Vec<Arc<Publication>>> = HashMap::new();
    for publication in queued {
        if publication.offset == 0 {
            let key = (publication.time_ms, publication.data.clone());
            from_queue.entry(key).or_default().push(publication.clone());
        } else if publication.offset <= last {
            continue;
        } else {
            last = publication.offset;
        }
        out.push(publication);
    }
    for publication in buffered {
        if publication.offset == 0 {
            let key = (publication.time_ms, publication.data.clone());
            if let Some(same) = from_queue.get_mut(&key) {
                if let Some(i) = same.iter().position(|q| **q == *publication) {
                    same.swap_remove(i);
                    continue;
                }
            }
        } else if publication.offset <= last {
            continue;
        } else {
            last = publication.offset;
        }
        out.push(publication);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(offset: u64, data: &'static str, time_ms: u64) -> Arc<Publication> {
        Arc::new(Publication {
            offset,
            data: Bytes::from_static(data.as_bytes()),
            info: None,
            tags: Default::default(),
            time_ms,
        })
    }

    fn data(publications: &[Arc<Publication>]) -> Vec<&[u8]> {
        publications.iter().map(|p| p.data.as_ref()).collect()
    }

    #[test]
    fn user_lists() {
        let users: Vec<_> = channel_users("personal:inbox#alice,bob").unwrap().collect();
        assert_eq!(users, ["alice", "bob"]);
        assert!(channel_users("chat:room").is_none());
    }

    #[test]
    fn offsets_are_sent_once_and_in_order() {
        let queued = vec![publication(3, "3", 0), publication(4, "4", 0)];
        let buffered = vec![
            publication(4, "4", 0),
            publication(5, "5", 0),
            publication(2, "2", 0),
        ];
        let out = after_reply(queued, buffered, 2);
        assert_eq!(data(&out), [b"3", b"4", b"5"]);
    }

    #[test]
    fn the_floor_drops_what_the_reply_holds() {
        let out = after_reply(vec![publication(3, "3", 0)], vec![], 3);
        assert!(out.is_empty());
    }

    #[test]
    fn without_offsets_a_publication_in_both_is_sent_once() {
        let queued = vec![publication(0, "a", 1), publication(0, "b", 2)];
        let buffered = vec![
            publication(0, "b", 2),
            publication(0, "b", 2), // published twice in one millisecond
            publication(0, "c", 3),
        ];
        let out = after_reply(queued, buffered, 0);
        assert_eq!(data(&out), [&b"a"[..], b"b", b"b", b"c"]);
    }
}
