//! Live traffic counters shared by every connection of one endpoint.
//!
//! Plain atomics: the server layer reads them when it renders metrics, so
//! the transport needs no metrics dependency and the hot path is one
//! relaxed add per counter.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for one endpoint. Share it with `Arc`.
#[derive(Debug, Default)]
pub struct TrafficStats {
    /// Data messages received from clients.
    pub messages_in: AtomicU64,
    /// Payload bytes received (after decompression).
    pub bytes_in: AtomicU64,
    /// Data messages written to clients.
    pub messages_out: AtomicU64,
    /// Payload bytes written (before compression).
    pub bytes_out: AtomicU64,
    /// Messages dropped because a queue was full under the `drop` policy.
    pub queue_dropped: AtomicU64,
    /// Connections closed because their queue overflowed under the `close` policy.
    pub queue_overflow_closes: AtomicU64,
}

impl TrafficStats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
