//! A response body fed by a task: the chunks of a stream connection (or
//! of the demo's event stream), in order, as they are written.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::mpsc;

/// The response body: chunks from the task that writes them. When the
/// client goes away the HTTP layer drops this, and the task's sender sees
/// it closed.
pub struct ChunkBody(mpsc::Receiver<Bytes>);

impl ChunkBody {
    /// A body of what is sent on the other end of `chunks`.
    pub fn new(chunks: mpsc::Receiver<Bytes>) -> Self {
        Self(chunks)
    }
}

impl hyper::body::Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}
