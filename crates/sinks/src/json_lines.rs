//! JSON lines: one event per line, nothing else. The stdout sink.

use std::sync::Arc;

use switchboard_protocol::event::Event;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{Sink, SinkError};

/// Writes each event as one line of JSON.
pub struct JsonLinesSink<W> {
    out: W,
    line: Vec<u8>,
}

impl JsonLinesSink<tokio::io::Stdout> {
    /// The stdout sink. Logs go to stderr, so stdout carries only events.
    pub fn stdout() -> Self {
        Self::new(tokio::io::stdout())
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> JsonLinesSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: Vec::new(),
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> Sink for JsonLinesSink<W> {
    async fn deliver(&mut self, batch: &[Arc<Event>]) -> Result<(), SinkError> {
        self.line.clear();
        for event in batch {
            // Serialising our own types to a Vec cannot fail.
            if serde_json::to_writer(&mut self.line, event.as_ref()).is_ok() {
                self.line.push(b'\n');
            }
        }
        self.out.write_all(&self.line).await?;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().await?;
        Ok(())
    }
}
