//! The event bus: bounded per-sink queues and the sink tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use switchboard_protocol::event::Event;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::filter::EventFilter;
use crate::Sink;

/// Most events handed to a sink in one batch.
const BATCH: usize = 256;

/// Counters of one sink or subscriber.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events delivered.
    pub delivered: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events in batches the sink failed to deliver (durable sinks: failed
    /// attempts, each retried or dead-lettered).
    pub failed: AtomicU64,
    /// Durable sinks: events waiting, in memory and in the store.
    pub queued: AtomicU64,
    /// Durable sinks: of those, events in the store.
    pub on_disk: AtomicU64,
    /// Durable sinks: events written to the store because memory was full.
    pub spilled: AtomicU64,
    /// Durable sinks: events in the batch being sent.
    pub in_flight: AtomicU64,
    /// Durable sinks: events moved to the dead letters.
    pub dead_lettered: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl SinkStats {
    /// The last delivery error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records a delivery error.
    pub fn set_last_error(&self, error: &str) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_owned());
    }

    /// Adds `other`'s event counts (not its gauges, which only a live sink
    /// has) to these.
    fn absorb(&self, other: &SinkStats) {
        for (into, from) in [
            (&self.delivered, &other.delivered),
            (&self.dropped, &other.dropped),
            (&self.failed, &other.failed),
            (&self.spilled, &other.spilled),
            (&self.dead_lettered, &other.dead_lettered),
        ] {
            into.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// Keeps the counters of a route that went away: one entry per name, so
/// subscribers that come and go (a page per visitor) add up instead of
/// piling up.
fn retire(retired: &mut Vec<(String, Arc<SinkStats>)>, name: &str, stats: &Arc<SinkStats>) {
    match retired.iter().find(|(kept, _)| kept == name) {
        Some((_, kept)) => kept.absorb(stats),
        None => retired.push((name.to_owned(), stats.clone())),
    }
}

struct Route {
    name: String,
    filter: EventFilter,
    /// Subscribers have no task to count deliveries, so queuing counts as delivered.
    delivered_on_queue: bool,
    tx: mpsc::Sender<Arc<Event>>,
    stats: Arc<SinkStats>,
}

#[derive(Default)]
struct Inner {
    // RwLock: every emit reads the route list; it changes only when a sink
    // or subscriber is added or goes away. Nothing awaits under it.
    routes: RwLock<Vec<Route>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    retired: RwLock<Vec<(String, Arc<SinkStats>)>>,
}

/// Fans events out to sinks. Clone freely.
#[derive(Clone, Default)]
pub struct EventBus {
    inner: Arc<Inner>,
}

/// Events for an in-process subscriber (library users).
pub struct EventStream {
    rx: mpsc::Receiver<Arc<Event>>,
}

impl EventStream {
    /// The next event; `None` once the bus has shut down.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        self.rx.recv().await
    }
}

impl EventBus {
    /// A bus with no sinks.
    pub fn new() -> Self {
        Self::default()
    }

    fn routes(&self) -> std::sync::RwLockReadGuard<'_, Vec<Route>> {
        self.inner.routes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Route>> {
        self.inner.routes.write().unwrap_or_else(|p| p.into_inner())
    }

    fn tasks(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `sink` in its own task behind a queue of `capacity` events.
    pub fn add_sink<S: Sink>(&self, name: &str, sink: S, capacity: usize) {
        let stats = Arc::new(SinkStats::default());
        self.add_filtered_sink(name, sink, capacity, EventFilter::default(), stats);
    }

    /// Starts `sink` for the events `filter` matches, counting in `stats`.
    pub fn add_filtered_sink<S: Sink>(
        &self,
        name: &str,
        mut sink: S,
        capacity: usize,
        filter: EventFilter,
        stats: Arc<SinkStats>,
    ) {
        let (tx, mut rx) = mpsc::channel::<Arc<Event>>(capacity.max(1));
        let task_stats = stats.clone();
        let sink_name = name.to_owned();
        let counts_itself = sink.counts_own_deliveries();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let n = batch.len() as u64;
                match sink.deliver(&batch).await {
                    Ok(()) if counts_itself => 0,
                    Ok(()) => task_stats.delivered.fetch_add(n, Ordering::Relaxed),
                    Err(err) => {
                        tracing::warn!(sink = %sink_name, error = %err, "sink delivery failed");
                        task_stats.failed.fetch_add(n, Ordering::Relaxed)
                    }
                };
                batch.clear();
                if rx.is_empty() {
                    if let Err(err) = sink.flush().await {
                        tracing::warn!(sink = %sink_name, error = %err, "sink flush failed");
                    }
                }
            }
            if let Err(err) = sink.close().await {
                tracing::warn!(sink = %sink_name, error = %err, "sink close failed");
            }
        });
        self.routes_mut().push(Route {
            name: name.to_owned(),
            filter,
            delivered_on_queue: false,
            tx,
            stats,
        });
        self.tasks().push(task);
    }

    /// An in-process subscriber with a queue of `capacity` events; when it
    /// falls behind, events are dropped for it and counted.
    pub fn subscribe(&self, capacity: usize) -> EventStream {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.routes_mut().push(Route {
            name: "subscriber".to_owned(),
            filter: EventFilter::default(),
            delivered_on_queue: true,
            tx,
            stats: Arc::new(SinkStats::default()),
        });
        EventStream { rx }
    }

    /// Queues an event to every sink without waiting.
    pub fn emit(&self, event: Event) {
        let event = Arc::new(event);
        let mut gone = false;
        for route in self.routes().iter() {
            if !route.filter.matches(&event) {
                continue;
            }
            match route.tx.try_send(event.clone()) {
                Ok(()) => {
                    if route.delivered_on_queue {
                        route.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    route.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone = true,
            }
        }
        if gone {
            self.drop_closed_routes();
        }
    }

    fn drop_closed_routes(&self) {
        let mut routes = self.routes_mut();
        let mut retired = self
            .inner
            .retired
            .write()
            .unwrap_or_else(|p| p.into_inner());
        routes.retain(|r| {
            let open = !r.tx.is_closed();
            if !open {
                retire(&mut retired, &r.name, &r.stats);
            }
            open
        });
    }

    /// Every sink's name and counters, one entry per name: the in-process
    /// subscribers (all named `subscriber`), live and gone, are added up,
    /// so a metrics scrape never shows one series twice.
    pub fn stats(&self) -> Vec<(String, Arc<SinkStats>)> {
        let routes = self.routes();
        let retired = self.inner.retired.read().unwrap_or_else(|p| p.into_inner());
        let all = routes
            .iter()
            .map(|r| (&r.name, &r.stats))
            .chain(retired.iter().map(|(name, stats)| (name, stats)));
        let mut out: Vec<(String, Arc<SinkStats>)> = Vec::new();
        for (name, stats) in all {
            match out.iter_mut().find(|(seen, _)| seen == name) {
                Some((_, sum)) => {
                    // A fresh sum: the counters themselves stay the sinks'.
                    let fresh = SinkStats::default();
                    fresh.absorb(sum);
                    fresh.absorb(stats);
                    *sum = Arc::new(fresh);
                }
                None => out.push((name.clone(), stats.clone())),
            }
        }
        out
    }

    /// Stops accepting events, lets every sink drain and flush its queue,
    /// and waits up to `deadline` for them.
    pub async fn shutdown(&self, deadline: Duration) {
        // Dropping the senders ends each sink task after its queue is empty.
        let routes = std::mem::take(&mut *self.routes_mut());
        {
            let mut retired = self
                .inner
                .retired
                .write()
                .unwrap_or_else(|p| p.into_inner());
            for route in routes.iter() {
                retire(&mut retired, &route.name, &route.stats);
            }
        }
        drop(routes);
        let tasks = std::mem::take(&mut *self.tasks());
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!("sinks did not drain before the shutdown deadline");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JsonLinesSink;

    fn event() -> Event {
        crate::testing::event("c1").as_ref().clone()
    }

    #[tokio::test]
    async fn json_lines_get_every_event_and_flush_on_shutdown() {
        let (writer, mut reader) = tokio::io::duplex(1 << 20);
        let bus = EventBus::new();
        bus.add_sink("lines", JsonLinesSink::new(writer), 100);
        for _ in 0..10 {
            bus.emit(event());
        }
        bus.shutdown(Duration::from_secs(5)).await;
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut out)
            .await
            .unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 10);
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(first["event"], "connect");
        assert_eq!(first["connection"]["id"], "c1");
    }

    #[tokio::test]
    async fn a_slow_subscriber_loses_events_counted() {
        let bus = EventBus::new();
        let mut stream = bus.subscribe(2);
        for _ in 0..5 {
            bus.emit(event());
        }
        let (_, stats) = &bus.stats()[0];
        assert_eq!(stats.delivered.load(Ordering::Relaxed), 2);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 3);
        assert!(stream.recv().await.is_some());
        drop(stream);
        bus.emit(event());
        assert_eq!(
            bus.stats().len(),
            1,
            "a gone subscriber's counters are kept"
        );
    }

    #[tokio::test]
    async fn subscribers_add_up_under_one_name_however_many_came_and_went() {
        let bus = EventBus::new();
        let _live = (bus.subscribe(10), bus.subscribe(10));
        for _ in 0..50 {
            let gone = bus.subscribe(10);
            bus.emit(event()); // delivered to the two live ones and this one
            drop(gone);
        }
        bus.emit(event()); // retires the last one gone
        let stats = bus.stats();
        assert_eq!(stats.len(), 1, "one entry, not one per subscriber");
        assert_eq!(stats[0].0, "subscriber");
        // Live ones got 10 each before their queues filled, then dropped the rest.
        let delivered = stats[0].1.delivered.load(Ordering::Relaxed);
        let dropped = stats[0].1.dropped.load(Ordering::Relaxed);
        assert_eq!(delivered, 50 + 2 * 10);
        assert_eq!(dropped, 2 * 41);
        assert_eq!(bus.inner.retired.read().unwrap().len(), 1);
    }
}
