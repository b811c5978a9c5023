//! Writing what a fan-out queued.
//!
//! A fan-out queues with [`Outbound::send_deferred`]: a connection whose
//! task waits with nothing to write is not woken, and is listed in a
//! [`Flushes`] instead. Once the fan-out has let go of its locks, it hands
//! the list to the [`Flusher`], whose tasks (one per shard of connections,
//! so that shards flush in parallel on the runtime's workers) write each
//! listed connection in passes:
//!
//! - a pass starts after a yield, so that publications already waiting
//!   are queued first, and it writes everything queued to a connection by
//!   then in one system call;
//! - what is queued during a pass goes out in the next one. Under load,
//!   passes get longer and carry more per write, so the cost per delivery
//!   falls as the rate rises (the batching the connection tasks did before,
//!   without their wake-ups); when idle, a pass follows each publication.

use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_transport::{OutMessage, Outbound, SendError};

use crate::registry::ConnectionId;

/// Shards of connections, each flushed by its own task.
const SHARDS: usize = 16;
/// A pass yields to other tasks after this many connections.
const PASS_SLICE: usize = 128;

/// The connections one fan-out left to flush, by shard.
#[derive(Default)]
pub(crate) struct Flushes {
    shards: [Vec<Outbound>; SHARDS],
}

impl Flushes {
    /// Queues `msg` to connection `id`, listing it when it waits for a flush.
    pub fn send(
        &mut self,
        id: &ConnectionId,
        outbound: &Outbound,
        msg: OutMessage,
    ) -> Result<(), SendError> {
        if outbound.send_deferred(msg)? {
            self.shards[id.shard(SHARDS)].push(outbound.clone());
        }
        Ok(())
    }
}

/// The flush tasks of one hub.
pub(crate) struct Flusher {
    shards: [Mutex<Pending>; SHARDS],
}

#[derive(Default)]
struct Pending {
    outbounds: Vec<Outbound>,
    /// A task runs (or is about to) for this shard.
    scheduled: bool,
}

impl Flusher {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            shards: Default::default(),
        })
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Pending> {
        self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `flushes` to the shards' tasks, starting those not running.
    /// Outside a Tokio runtime the connections are flushed right here.
    pub fn submit(self: &Arc<Self>, flushes: Flushes) {
        let runtime = tokio::runtime::Handle::try_current();
        for (shard, outbounds) in flushes.shards.into_iter().enumerate() {
            if outbounds.is_empty() {
                continue;
            }
            let Ok(runtime) = &runtime else {
                flush_each(&outbounds, &mut Vec::new());
                continue;
            };
            let mut pending = self.lock(shard);
            pending.outbounds.extend(outbounds);
            if !std::mem::replace(&mut pending.scheduled, true) {
                drop(pending);
                runtime.spawn(self.clone().run(shard));
            }
        }
    }

    /// One shard's task: passes until nothing is left to flush.
    async fn run(self: Arc<Self>, shard: usize) {
        let mut running = Running {
            flusher: &self,
            shard,
            ended: false,
        };
        let mut scratch = Vec::new();
        loop {
            tokio::task::yield_now().await;
            let outbounds = {
                let mut pending = self.lock(shard);
                if pending.outbounds.is_empty() {
                    // Under the lock that `submit` takes: a connection listed
                    // after this starts a new task.
                    pending.scheduled = false;
                    running.ended = true;
                    return;
                }
                std::mem::take(&mut pending.outbounds)
            };
            for slice in outbounds.chunks(PASS_SLICE) {
                flush_each(slice, &mut scratch);
                tokio::task::yield_now().await;
            }
        }
    }
}

/// Lets a new task start for the shard if this one is dropped unfinished
/// (its runtime shut down), so that no connection waits for it forever.
struct Running<'a> {
    flusher: &'a Flusher,
    shard: usize,
    ended: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.flusher.lock(self.shard).scheduled = false;
        }
    }
}

fn flush_each(outbounds: &[Outbound], scratch: &mut Vec<u8>) {
    for outbound in outbounds {
        outbound.flush(scratch);
    }
}
