//! Durable delivery, shared by the webhook and Redis stream sinks: a
//! backlog that spills to the store instead of growing in memory, one
//! batch in flight at a time (so events leave in the order they came, and
//! each connection's events stay in order), retries with exponential
//! backoff and jitter, and dead letters for what exhausts its attempts.
//!
//! The bus hands events to [`DurableSink::deliver`], which only queues
//! them; a worker task sends them to the [`Target`].

mod backlog;
mod worker;

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use switchboard_config::Delivery;
use switchboard_protocol::event::Event;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::answer::{Answer, Responder};
use crate::filter::EventFilter;
use crate::store::{DeadLetter, DeadLetters, Store, StoreError};
use crate::{Sink, SinkError, SinkStats};
use backlog::Backlog;

/// How long shutdown lets the worker finish its batch before the backlog
/// left in memory is written to the store.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// Why a target did not take a batch.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, for logs, status and dead letters.
    pub message: String,
    /// False when trying again cannot help (the target refused the events).
    pub retry: bool,
    /// How long the target asked to be left alone (`Retry-After`), if it did.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure worth retrying after the usual backoff.
    pub fn transient(message: String) -> Self {
        Failure {
            message,
            retry: true,
            retry_after: None,
        }
    }
}

/// Where a durable sink sends its batches.
pub trait Target: Send + 'static {
    /// Sends a batch, oldest first; `Ok` once the target has taken it, with
    /// what it answered for each event (fewer, or none, when it answered
    /// nothing).
    fn send(
        &mut self,
        batch: &[Arc<Event>],
    ) -> impl Future<Output = Result<Vec<Option<Answer>>, Failure>> + Send;
}

struct Shared {
    backlog: Mutex<Backlog>,
    /// Events arrived, or closing began.
    wake: Notify,
    closing: CancellationToken,
    stats: Arc<SinkStats>,
    dead: DeadLetters,
    delivery: Delivery,
    /// Told of deliveries with answers or receipts, and of dead letters.
    responder: Option<Arc<dyn Responder>>,
}

impl Shared {
    fn backlog(&self) -> MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn closing(&self) -> bool {
        self.closing.is_cancelled()
    }

    fn note_len(&self, backlog: &Backlog) {
        self.stats.queued.store(backlog.len(), Ordering::Relaxed);
        self.stats
            .on_disk
            .store(backlog.on_disk(), Ordering::Relaxed);
    }

    /// Runs `f` on the backlog on a blocking thread (it may touch the disk).
    async fn blocking<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Backlog) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let shared = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut backlog = shared.backlog();
            let out = f(&mut backlog);
            shared.note_len(&backlog);
            out
        })
        .await
        .map_err(|e| StoreError::new(format!("store task failed: {e}")))?
    }
}

/// The bus side of a durable sink: queues events for the worker.
pub struct DurableSink {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

/// The server's side of a durable sink: status, dead letters, admission.
#[derive(Clone)]
pub struct DurableHandle {
    name: String,
    kind: &'static str,
    filter: EventFilter,
    shared: Arc<Shared>,
}

/// A durable sink's state, as the server API's `sinks` method shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: String,
    /// `webhook` or `redis_stream`.
    pub kind: &'static str,
    /// Events waiting (memory and store).
    pub queued: u64,
    /// Of those, events in the store.
    pub on_disk: u64,
    /// Events in the batch being sent.
    pub in_flight: u64,
    /// Events the target took.
    pub delivered: u64,
    /// Failed attempts (each retried or dead-lettered).
    pub failures: u64,
    /// Events given up and kept as dead letters (since start).
    pub dead_lettered: u64,
    /// Events refused before queuing (the intake queue was full).
    pub dropped: u64,
    /// The last failure, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// True while the backlog is above `busy_backlog`.
    pub busy: bool,
}

/// Starts a durable sink named `name` of `kind` sending to `target`.
pub fn start<T: Target>(
    name: &str,
    kind: &'static str,
    target: T,
    store: &Store,
    delivery: Delivery,
    filter: EventFilter,
    responder: Option<Arc<dyn Responder>>,
) -> Result<(DurableSink, DurableHandle), StoreError> {
    let queue = store.queue(name)?;
    let backlog = Backlog::new(queue, delivery.memory_events);
    let stats = Arc::new(SinkStats::default());
    let shared = Arc::new(Shared {
        backlog: Mutex::new(backlog),
        wake: Notify::new(),
        closing: CancellationToken::new(),
        stats,
        dead: store.dead_letters(name),
        delivery,
        responder,
    });
    shared.note_len(&shared.backlog());
    let worker = tokio::spawn(worker::run(shared.clone(), target, name.to_owned()));
    let handle = DurableHandle {
        name: name.to_owned(),
        kind,
        filter,
        shared: shared.clone(),
    };
    Ok((
        DurableSink {
            shared,
            worker: Some(worker),
        },
        handle,
    ))
}

impl DurableSink {
    /// The counters the bus should count drops in.
    pub fn stats(&self) -> Arc<SinkStats> {
        self.shared.stats.clone()
    }
}

impl Sink for DurableSink {
    async fn deliver(&mut self, batch: &[Arc<Event>]) -> Result<(), SinkError> {
        {
            let mut backlog = self.shared.backlog();
            if backlog.fits_in_memory(batch.len()) {
                backlog.push_memory(batch);
                self.shared.note_len(&backlog);
                drop(backlog);
                self.shared.wake.notify_one();
                return Ok(());
            }
        }
        let events = batch.to_vec();
        let spilled = self.shared.blocking(move |b| b.push(&events)).await?;
        self.shared
            .stats
            .spilled
            .fetch_add(spilled as u64, Ordering::Relaxed);
        self.shared.wake.notify_one();
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn counts_own_deliveries(&self) -> bool {
        true
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        self.shared.closing.cancel();
        self.shared.wake.notify_one();
        if let Some(mut worker) = self.worker.take() {
            if tokio::time::timeout(CLOSE_GRACE, &mut worker)
                .await
                .is_err()
            {
                worker.abort();
            }
        }
        let kept = self.shared.blocking(Backlog::persist).await?;
        let on_disk = self.shared.stats.on_disk.load(Ordering::Relaxed);
        if on_disk > 0 {
            tracing::info!(
                kept,
                on_disk,
                "undelivered events kept in the sink store for the next start"
            );
        }
        Ok(())
    }
}

impl DurableHandle {
    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Which events it takes.
    pub fn filter(&self) -> &EventFilter {
        &self.filter
    }

    /// The configured `busy_backlog` (0: never busy).
    pub fn busy_limit(&self) -> u64 {
        self.shared.delivery.busy_backlog
    }

    /// True while the backlog is above `busy_backlog` (never when it is 0).
    pub fn busy(&self) -> bool {
        let limit = self.shared.delivery.busy_backlog;
        limit > 0 && self.shared.stats.queued.load(Ordering::Relaxed) > limit
    }

    /// The sink's counters and backlog.
    pub fn status(&self) -> SinkStatus {
        let s = &self.shared.stats;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        SinkStatus {
            name: self.name.clone(),
            kind: self.kind,
            queued: load(&s.queued),
            on_disk: load(&s.on_disk),
            in_flight: load(&s.in_flight),
            delivered: load(&s.delivered),
            failures: load(&s.failed),
            dead_lettered: load(&s.dead_lettered),
            dropped: load(&s.dropped),
            last_error: s.last_error(),
            busy: self.busy(),
        }
    }

    /// Dead letters with ids above `after`, at most `limit`, and how many
    /// there are in all.
    pub async fn dead_letters(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<DeadLetter>, u64), StoreError> {
        let shared = self.shared.clone();
        run_blocking(move || Ok((shared.dead.list(after, limit)?, shared.dead.count()?))).await
    }

    /// Moves dead letters (`ids`, or all) back to the end of the backlog.
    /// Returns how many.
    pub async fn replay(&self, ids: Option<Vec<u64>>) -> Result<usize, StoreError> {
        let shared = self.shared.clone();
        let letters = run_blocking(move || shared.dead.take(ids.as_deref())).await?;
        let events: Vec<Arc<Event>> = letters
            .into_iter()
            .filter_map(|l| serde_json::from_value(l.event).ok().map(Arc::new))
            .collect();
        let n = events.len();
        self.shared.blocking(move |b| b.push(&events)).await?;
        self.shared.wake.notify_one();
        Ok(n)
    }

    /// Deletes dead letters (`ids`, or all). Returns how many.
    pub async fn purge(&self, ids: Option<Vec<u64>>) -> Result<usize, StoreError> {
        let shared = self.shared.clone();
        run_blocking(move || Ok(shared.dead.take(ids.as_deref())?.len())).await
    }
}

pub(super) async fn run_blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::new(format!("store task failed: {e}")))?
}
