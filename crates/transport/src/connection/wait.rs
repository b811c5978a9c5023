//! What the connection loop waits for on one turn, and why it woke.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFuture;

use crate::queue::Outbound;

/// What the connection task waits for on one turn of its loop.
#[derive(Clone, Copy)]
pub(super) struct Wait {
    pub(super) writing: bool,
    pub(super) reading: bool,
    pub(super) queue: bool,
    /// Lend the socket to the queue while waiting (see `queue::direct`).
    pub(super) lend: bool,
    pub(super) timer: bool,
}

/// Why the connection task woke up.
pub(super) enum Wake {
    Cancelled,
    Writable(std::io::Result<()>),
    Readable(std::io::Result<()>),
    Queue,
    Timer,
}

impl Wait {
    /// Polls every source the task waits on, in priority order. Readiness
    /// is polled on the socket itself (`poll_*_ready` keep one waker per
    /// direction in the socket's registration), so waiting allocates and
    /// stores nothing per turn; it also replaces the wakers the HTTP layer
    /// left there, which would otherwise keep its finished task alive.
    pub(super) fn poll(
        self,
        cx: &mut Context<'_>,
        stream: &Arc<TcpStream>,
        outbound: &Outbound,
        cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
        timer: Option<Pin<&mut Sleep>>,
    ) -> Poll<Wake> {
        if cancelled.poll(cx).is_ready() {
            return Poll::Ready(Wake::Cancelled);
        }
        if self.writing {
            if let Poll::Ready(ready) = stream.poll_write_ready(cx) {
                return Poll::Ready(Wake::Writable(ready));
            }
        }
        if self.reading {
            if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
                return Poll::Ready(Wake::Readable(ready));
            }
        }
        if self.queue
            && outbound
                .poll_ready(cx, self.lend.then_some(stream))
                .is_ready()
        {
            return Poll::Ready(Wake::Queue);
        }
        if let (true, Some(timer)) = (self.timer, timer) {
            if timer.poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
        }
        Poll::Pending
    }
}
