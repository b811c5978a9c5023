//! Sinks: where hub events go.
//!
//! An [`EventBus`] fans each event out to every registered sink through a
//! bounded queue per sink. Emitting never waits: a full queue drops the
//! event for that sink and counts it, so a stuck sink can never stall
//! connections. Each sink runs in its own task and receives events in
//! batches.
#![deny(missing_docs)]

mod answer;
mod bus;
pub mod durable;
mod filter;
mod json_lines;
pub mod redis_stream;
pub mod store;
pub mod webhook;

use std::future::Future;
use std::sync::Arc;

pub use answer::{Answer, Responder};
pub use bus::{EventBus, EventStream, SinkStats};
pub use filter::EventFilter;
pub use json_lines::JsonLinesSink;
pub use store::{Store, StoreError};
use switchboard_protocol::event::Event;

/// A delivery failure; the bus counts it and goes on with the next batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("sink I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The durable store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A destination for events.
pub trait Sink: Send + 'static {
    /// Delivers a batch, in order.
    fn deliver(
        &mut self,
        batch: &[Arc<Event>],
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Makes delivered events durable or visible (called when the queue runs empty).
    fn flush(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Called once at shutdown, after the last batch. Default: [`Sink::flush`].
    fn close(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send {
        self.flush()
    }
    /// True for sinks that queue events themselves and count deliveries
    /// when their target takes them, rather than when `deliver` returns.
    fn counts_own_deliveries(&self) -> bool {
        false
    }
}

/// Events for the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use switchboard_protocol::event::{ConnectionInfo, Event};

    /// A `connect` event of connection `id`.
    pub fn event(id: &str) -> Arc<Event> {
        Arc::new(Event::connect(Arc::new(ConnectionInfo {
            id: id.into(),
            endpoint: "/ws".into(),
            remote_addr: "127.0.0.1:9".into(),
            user_agent: None,
            origin: None,
            subprotocol: None,
            user: None,
            transport: Default::default(),
            connected_at: "t".into(),
        })))
    }
}
