//! Filling gaps in live delivery from history.
//!
//! A publication reaches this node through the broker; with Redis, through
//! a pub/sub connection that can drop. What was published while it was
//! down is in the channel's history only. So the fan-out tracks, per
//! history channel, the position it last delivered: a publication that
//! skips an offset (or comes from another epoch), or a broker that says it
//! re-subscribed, puts the channel in the [`GapQueue`]. One task reads the
//! missed publications from history and delivers them, followed by the
//! live ones held meanwhile, so subscribers see every offset once, in
//! order. When history cannot fill the gap (the stream was lost, or too
//! much piled up) every subscriber gets an `unsubscribe` push with code
//! 2500 (insufficient state): the SDKs then subscribe again with their own
//! position and learn from `recovered: false` that something was lost.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use switchboard_broker::{BrokerError, HistoryQuery};
use tokio::sync::Notify;

use super::hub::Inner;
use super::ChannelHub;
use crate::flush::Flushes;

/// A failed history read is retried after this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Channels waiting for their gap to be filled.
#[derive(Default)]
pub(crate) struct GapQueue {
    channels: Mutex<HashSet<String>>,
    wake: Notify,
    closed: AtomicBool,
}

impl GapQueue {
    /// Asks for `channel`'s gap to be filled (once, however often asked).
    pub fn request(&self, channel: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if channels.insert(channel.to_owned()) {
            self.wake.notify_one();
        }
    }

    /// Stops the filling task (the hub is gone).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The channels asked for so far; waits while there are none.
    async fn next_batch(&self) -> Option<Vec<String>> {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            let batch: Vec<String> = {
                let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
                channels.drain().collect()
            };
            if !batch.is_empty() {
                return Some(batch);
            }
            self.wake.notified().await;
        }
    }
}

/// The filling task: runs until the hub is dropped.
pub(crate) async fn fill_gaps(hub: Weak<Inner>, queue: Arc<super::Fanout>) {
    while let Some(batch) = queue.gaps.next_batch().await {
        let Some(inner) = hub.upgrade() else { return };
        let hub = ChannelHub { inner };
        for channel in batch {
            hub.fill_gap(&channel).await;
        }
    }
}

impl ChannelHub {
    async fn fill_gap(&self, channel: &str) {
        let fanout = &self.inner.fanout;
        let (since, history) = {
            let shard = fanout.shard(channel);
            let Some(ch) = shard.get(channel) else { return };
            match (ch.position.clone(), ch.options.history) {
                (Some(since), Some(history)) => (since, history),
                _ => return,
            }
        };
        let query = HistoryQuery {
            since: Some(since),
            limit: None,
            reverse: false,
        };
        let page = match self.inner.broker.history(channel, &query, history).await {
            Ok(page) => page,
            Err(BrokerError::UnrecoverablePosition) => {
                tracing::warn!(channel, "publications were missed and history cannot replace them; subscribers must subscribe again");
                self.resubscribe_all(channel).await;
                return;
            }
            Err(err) => {
                tracing::warn!(channel, error = %err, "cannot read missed publications yet; retrying");
                let queue = fanout.clone();
                let channel = channel.to_owned();
                tokio::spawn(async move {
                    tokio::time::sleep(RETRY_AFTER).await;
                    queue.gaps.request(&channel);
                });
                return;
            }
        };
        let mut flushes = Flushes::default();
        let outcome = {
            let mut shard = fanout.shard(channel);
            let Some(ch) = shard.get_mut(channel) else {
                return;
            };
            ch.fill_gap(
                channel,
                page.publications,
                &page.position.epoch,
                &mut flushes,
            )
        };
        fanout.flusher.submit(flushes);
        match outcome {
            Ok(false) => {}
            Ok(true) => fanout.gaps.request(channel),
            Err(_) => {
                tracing::warn!(
                    channel,
                    "the gap in live delivery cannot be filled; subscribers must subscribe again"
                );
                self.resubscribe_all(channel).await;
            }
        }
    }

    /// Unsubscribes every subscriber of `channel` on this node with code
    /// 2500, which tells the SDKs to subscribe again (and recover).
    async fn resubscribe_all(&self, channel: &str) {
        let ids: Vec<_> = {
            let shard = self.inner.fanout.shard(channel);
            match shard.get(channel) {
                Some(ch) => ch.subscribers.keys().copied().collect(),
                None => return,
            }
        };
        let code = switchboard_protocol::client::unsubscribe::INSUFFICIENT_STATE;
        for id in ids {
            self.unsubscribe_with_push(id, channel, code, "insufficient state")
                .await;
        }
    }
}
