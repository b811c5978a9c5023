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
//!
//! A connection with a write delay is listed with it, and its shard's task
//! flushes it once the delay after its first message has passed: one timer
//! per shard, however many connections wait, and no wake-up of theirs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_transport::{OutMessage, Outbound, SendError};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::registry::ConnectionId;

/// Shards of connections, each flushed by its own task.
const SHARDS: usize = 16;
/// A pass yields to other tasks after this many connections.
const PASS_SLICE: usize = 128;
/// Delayed connections due this soon are flushed in the pass at hand
/// rather than after one more sleep (the timer's resolution).
const DUE_SLACK: Duration = Duration::from_millis(1);

/// The connections one fan-out left to flush, by shard.
#[derive(Default)]
pub(crate) struct Flushes {
    shards: [Vec<Outbound>; SHARDS],
    /// Connections with a write delay, with it.
    delayed: [Vec<(Duration, Outbound)>; SHARDS],
}

impl Flushes {
    /// Queues `msg` to connection `id`, listing it when it waits for a flush.
    pub fn send(
        &mut self,
        id: &ConnectionId,
        outbound: &Outbound,
        msg: OutMessage,
    ) -> Result<(), SendError> {
        match outbound.send_deferred(msg)? {
            None => {}
            Some(Duration::ZERO) => self.shards[id.shard(SHARDS)].push(outbound.clone()),
            Some(delay) => self.delayed[id.shard(SHARDS)].push((delay, outbound.clone())),
        }
        Ok(())
    }
}

/// The flush tasks of one hub.
pub(crate) struct Flusher {
    shards: [Mutex<Pending>; SHARDS],
    /// Wakes a shard's task that sleeps until its next delayed flush.
    wakers: [Notify; SHARDS],
}

#[derive(Default)]
struct Pending {
    outbounds: Vec<Outbound>,
    /// Connections with a write delay, in one line per delay: each line is
    /// in the order of its due times.
    delayed: Vec<DelayLine>,
    /// A task runs (or is about to) for this shard.
    scheduled: bool,
    /// The shard's task sleeps until then, or until woken.
    sleeping_until: Option<Instant>,
}

struct DelayLine {
    delay: Duration,
    due: VecDeque<(Instant, Outbound)>,
}

impl Pending {
    /// Lists `outbound`, due at `due`, in the line of its delay (one line
    /// per distinct delay: a handful, one per endpoint setting at most).
    fn add_delayed(&mut self, delay: Duration, due: Instant, outbound: Outbound) {
        let line = match self.delayed.iter().position(|line| line.delay == delay) {
            Some(line) => line,
            None => {
                self.delayed.push(DelayLine {
                    delay,
                    due: VecDeque::new(),
                });
                self.delayed.len() - 1
            }
        };
        self.delayed[line].due.push_back((due, outbound));
    }

    /// Moves the delayed connections due by `by` to `due`.
    fn take_due(&mut self, by: Instant, due: &mut Vec<Outbound>) {
        for line in &mut self.delayed {
            while line.due.front().is_some_and(|(at, _)| *at <= by) {
                due.extend(line.due.pop_front().map(|(_, outbound)| outbound));
            }
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.delayed
            .iter()
            .filter_map(|line| line.due.front().map(|(at, _)| *at))
            .min()
    }

    /// Whether the shard's task must be woken for work due at `due`:
    /// it sleeps until later.
    fn sleeps_past(&self, due: Instant) -> bool {
        self.sleeping_until.is_some_and(|until| due < until)
    }
}

impl Flusher {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            shards: Default::default(),
            wakers: Default::default(),
        })
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, Pending> {
        self.shards[shard]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `flushes` to the shards' tasks, starting those not running.
    /// Outside a Tokio runtime the connections are flushed right here,
    /// delayed or not.
    pub fn submit(self: &Arc<Self>, flushes: Flushes) {
        let runtime = tokio::runtime::Handle::try_current();
        let now = Instant::now();
        let work = flushes.shards.into_iter().zip(flushes.delayed);
        for (shard, (outbounds, delayed)) in work.enumerate() {
            if outbounds.is_empty() && delayed.is_empty() {
                continue;
            }
            let Ok(runtime) = &runtime else {
                let mut scratch = Vec::new();
                flush_each(&outbounds, &mut scratch);
                flush_each(delayed.iter().map(|(_, outbound)| outbound), &mut scratch);
                continue;
            };
            let mut pending = self.lock(shard);
            let mut wake = !outbounds.is_empty() && pending.sleeps_past(now);
            pending.outbounds.extend(outbounds);
            for (delay, outbound) in delayed {
                wake |= pending.sleeps_past(now + delay);
                pending.add_delayed(delay, now + delay, outbound);
            }
            let start = !std::mem::replace(&mut pending.scheduled, true);
            drop(pending);
            if wake {
                self.wakers[shard].notify_one();
            }
            if start {
                runtime.spawn(self.clone().run(shard));
            }
        }
    }

    /// One shard's task: passes until nothing is left to flush, sleeping
    /// while only delayed connections wait.
    async fn run(self: Arc<Self>, shard: usize) {
        let mut running = Running {
            flusher: &self,
            shard,
            ended: false,
        };
        let mut scratch = Vec::new();
        loop {
            tokio::task::yield_now().await;
            match self.next_turn(shard) {
                Turn::Flush(outbounds) => {
                    for slice in outbounds.chunks(PASS_SLICE) {
                        flush_each(slice, &mut scratch);
                        tokio::task::yield_now().await;
                    }
                }
                // `submit` wakes the task early for work due sooner.
                Turn::Sleep(until) => tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = self.wakers[shard].notified() => {}
                },
                Turn::End => {
                    running.ended = true;
                    return;
                }
            }
        }
    }

    /// What a shard's task does next: flush what is listed and due, sleep
    /// until the next delayed connection is due, or end.
    fn next_turn(&self, shard: usize) -> Turn {
        let mut pending = self.lock(shard);
        pending.sleeping_until = None;
        let mut outbounds = std::mem::take(&mut pending.outbounds);
        pending.take_due(Instant::now() + DUE_SLACK, &mut outbounds);
        if !outbounds.is_empty() {
            return Turn::Flush(outbounds);
        }
        match pending.next_due() {
            Some(until) => {
                pending.sleeping_until = Some(until);
                Turn::Sleep(until)
            }
            None => {
                // Under the lock that `submit` takes: a connection listed
                // after this starts a new task.
                pending.scheduled = false;
                Turn::End
            }
        }
    }
}

enum Turn {
    Flush(Vec<Outbound>),
    Sleep(Instant),
    End,
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

fn flush_each<'a>(outbounds: impl IntoIterator<Item = &'a Outbound>, scratch: &mut Vec<u8>) {
    for outbound in outbounds {
        outbound.flush(scratch);
    }
}
