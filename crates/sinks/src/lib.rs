//! Sinks: where hub events go.
//!
//! An [`EventBus`] fans each event out to every registered sink through a
//! bounded queue per sink. Emitting never waits: a full queue drops the
//! event for that sink and counts it, so a stuck sink can never stall
//! connections. Each sink runs in its own task and receives events in
//! batches.
#![deny(missing_docs)]

mod bus;
mod json_lines;

use std::future::Future;
use std::sync::Arc;

pub use bus::{EventBus, EventStream, SinkStats};
pub use json_lines::JsonLinesSink;
use switchboard_protocol::event::Event;

/// A delivery failure; the bus counts it and goes on with the next batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("sink I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A destination for events.
pub trait Sink: Send + 'static {
    /// Delivers a batch, in order.
    fn deliver(
        &mut self,
        batch: &[Arc<Event>],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Makes delivered events durable or visible (called when the queue runs empty and at shutdown).
    fn flush(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;
}
