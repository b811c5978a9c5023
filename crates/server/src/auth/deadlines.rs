//! Deadlines of connections that must act in time: a raw or channels
//! client that owes its credential as its first message, and a raw
//! connection whose token expires (after the refresh window). One task
//! sweeps them all, four times a second, as `KeepAlive` does for pings,
//! so a deadline costs a map entry rather than a timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_hub::ConnectionId;
use switchboard_transport::{CloseFrame, Outbound};
use tokio_util::sync::CancellationToken;

const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// One connection's deadline and what to close it with.
pub struct Deadline {
    outbound: Outbound,
    /// Unix milliseconds (`None`: no deadline) and the close frame.
    due: Mutex<Option<(u64, CloseFrame)>>,
}

impl Deadline {
    fn due(&self) -> MutexGuard<'_, Option<(u64, CloseFrame)>> {
        self.due.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the connection with `close` at `unix_ms` unless moved first.
    pub fn set(&self, unix_ms: u64, close: CloseFrame) {
        *self.due() = Some((unix_ms, close));
    }

    /// No deadline any more.
    pub fn clear(&self) {
        *self.due() = None;
    }
}

/// Every connection with a deadline.
#[derive(Default)]
pub struct Deadlines {
    entries: Mutex<HashMap<ConnectionId, Arc<Deadline>>>,
}

impl Deadlines {
    fn entries(&self) -> MutexGuard<'_, HashMap<ConnectionId, Arc<Deadline>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection's deadline slot (none set yet).
    pub fn register(&self, id: ConnectionId, outbound: Outbound) -> Arc<Deadline> {
        let deadline = Arc::new(Deadline {
            outbound,
            due: Mutex::new(None),
        });
        self.entries().insert(id, deadline.clone());
        deadline
    }

    /// The connection ended.
    pub fn unregister(&self, id: &ConnectionId) {
        self.entries().remove(id);
    }

    /// Closes connections whose deadline passed, until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            self.sweep(unix_millis());
        }
    }

    fn sweep(&self, now: u64) {
        let entries = self.entries().values().cloned().collect::<Vec<_>>();
        for deadline in entries {
            let mut due = deadline.due();
            if let Some((at, close)) = due.as_ref() {
                if now >= *at {
                    deadline.outbound.close(close.clone());
                    *due = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchboard_transport::{OverflowPolicy, TrafficStats};

    use super::*;

    #[test]
    fn closes_only_what_is_due_and_only_once() {
        let deadlines = Deadlines::default();
        let stats = Arc::new(TrafficStats::default());
        let (a, b) = (ConnectionId::random(), ConnectionId::random());
        let out_a = Outbound::new(1024, OverflowPolicy::Close, stats.clone());
        let out_b = Outbound::new(1024, OverflowPolicy::Close, stats);
        let da = deadlines.register(a, out_a.clone());
        let db = deadlines.register(b, out_b.clone());
        da.set(1_000, CloseFrame::new(1008, "late"));
        db.set(5_000, CloseFrame::new(1008, "later"));
        deadlines.sweep(999);
        assert!(!out_a.is_closed() && !out_b.is_closed());
        deadlines.sweep(1_000);
        assert!(out_a.is_closed() && !out_b.is_closed());
        db.clear();
        deadlines.sweep(10_000);
        assert!(!out_b.is_closed(), "a cleared deadline never fires");
        deadlines.unregister(&a);
        assert_eq!(deadlines.entries().len(), 1);
    }
}
