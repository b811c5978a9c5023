//! The bounded outbound queue of one connection.
//!
//! Everyone who sends to a connection (the hub's fan-out, the server API, the
//! echo handler) pushes into this queue without awaiting; only the
//! connection's own task writes to the socket. The queue is bounded in
//! bytes, so a client that never reads costs at most the limit.
//!
//! One exception to "only the task writes": a task waiting with nothing of
//! its own to write may lend its socket to the queue ([`direct`]), so that
//! a fan-out writes what it queued without waking the task.

mod direct;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::net::TcpStream;

use crate::close::{code, CloseFrame};
use crate::frame::OpCode;
use crate::stats::TrafficStats;

/// Whether a data message is text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A UTF-8 text message.
    Text,
    /// A binary message.
    Binary,
}

impl MessageKind {
    pub(crate) fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A message to send. The payload is reference-counted, so one encoding can
/// be queued to many connections.
#[derive(Debug, Clone)]
pub struct OutMessage {
    /// Text or binary.
    pub kind: MessageKind,
    /// The payload; for text, valid UTF-8.
    pub payload: Bytes,
    /// For a message many connections get: its compressed form, made by
    /// the first connection that needs it and reused by the others.
    deflated: Option<Arc<OnceLock<Deflated>>>,
}

/// A compressed payload and the compressor settings it was made with.
#[derive(Debug)]
pub(crate) struct Deflated {
    pub key: (u32, u8),
    pub bytes: Bytes,
}

impl PartialEq for OutMessage {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.payload == other.payload
    }
}

impl Eq for OutMessage {}

impl OutMessage {
    /// A text message.
    pub fn text(payload: impl Into<Bytes>) -> Self {
        Self {
            kind: MessageKind::Text,
            payload: payload.into(),
            deflated: None,
        }
    }

    /// A binary message.
    pub fn binary(payload: impl Into<Bytes>) -> Self {
        Self {
            kind: MessageKind::Binary,
            payload: payload.into(),
            deflated: None,
        }
    }

    /// Marks a message that many connections will get (a publication):
    /// on endpoints with `compression = shared` it is compressed once,
    /// not once per connection.
    pub fn shared(mut self) -> Self {
        self.deflated = Some(Arc::new(OnceLock::new()));
        self
    }

    /// The compressed form made with `key` (level, window bits), computed
    /// by `compress` on first use; `None` when the message is not shared or
    /// was compressed with other settings (then the caller compresses its own).
    pub(crate) fn deflated_with(
        &self,
        key: (u32, u8),
        compress: impl FnOnce() -> Bytes,
    ) -> Option<Bytes> {
        let cell = self.deflated.as_ref()?;
        let form = cell.get_or_init(|| Deflated {
            key,
            bytes: compress(),
        });
        (form.key == key).then(|| form.bytes.clone())
    }
}

/// What happens when a message does not fit the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Close the connection with 1008 "slow consumer": the client misses
    /// nothing silently.
    #[default]
    Close,
    /// Drop the message and count it; the connection stays open.
    Drop,
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection is closed or closing.
    #[error("connection closed")]
    Closed,
    /// The queue was full; the message was dropped (policy `drop`).
    #[error("outbound queue full, message dropped")]
    Dropped,
    /// The queue was full; the connection is being closed (policy `close`).
    #[error("outbound queue full, connection closed")]
    Overflow,
}

/// The close reason sent to a slow consumer.
pub const OVERFLOW_REASON: &str = "slow consumer: outbound queue full";

#[derive(Debug)]
struct State {
    items: VecDeque<OutMessage>,
    bytes: usize,
    close: Option<CloseFrame>,
    /// Set once a close is requested or the connection ended: no more sends.
    closed: bool,
    /// The connection task, while it waits for something to send. Kept
    /// under the queue's lock (no separate `Notify`): a wake-up cannot be
    /// lost between the task's check and its wait.
    waiter: Option<Waker>,
    /// Writes from outside the task, while the task lends its socket.
    direct: direct::Direct,
}

impl State {
    fn take_waiter(&mut self) -> Option<Waker> {
        self.waiter.take()
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    limit: usize,
    policy: OverflowPolicy,
    /// The close sent to a slow consumer under `OverflowPolicy::Close`.
    overflow_close: (u16, &'static str),
    stats: Arc<TrafficStats>,
}

/// A cheap, cloneable handle for sending to one connection.
#[derive(Debug, Clone)]
pub struct Outbound {
    shared: Arc<Shared>,
}

impl Outbound {
    /// A queue holding at most `limit` bytes of payload (one larger message
    /// is accepted when the queue is empty, or it could never be sent).
    pub fn new(limit: usize, policy: OverflowPolicy, stats: Arc<TrafficStats>) -> Self {
        let state = State {
            items: VecDeque::new(),
            bytes: 0,
            close: None,
            closed: false,
            waiter: None,
            direct: direct::Direct::default(),
        };
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                limit,
                policy,
                overflow_close: (code::POLICY_VIOLATION, OVERFLOW_REASON),
                stats,
            }),
        }
    }

    /// Uses another close for slow consumers (a protocol may define its
    /// own, e.g. Centrifugo's 3008 "slow"). Call before cloning the handle.
    pub fn with_overflow_close(mut self, code: u16, reason: &'static str) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.overflow_close = (code, reason);
        }
        self
    }

    // A std Mutex: nothing awaits while holding it, and it is held for a few
    // pointer moves. A poisoned lock only means another sender panicked
    // mid-push; the queue itself is still consistent, so keep going.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a message without waiting.
    pub fn send(&self, msg: OutMessage) -> Result<(), SendError> {
        let mut state = self.push(msg)?;
        // The task registers itself only when it found the queue empty, so
        // only the first message after that wakes it.
        let waiter = state.take_waiter();
        drop(state);
        wake(waiter);
        Ok(())
    }

    /// Queues a message if it fits, applying the overflow policy if not.
    /// Returns the queue still locked, so that the caller decides whom to wake.
    fn push(&self, msg: OutMessage) -> Result<MutexGuard<'_, State>, SendError> {
        let len = msg.payload.len();
        let mut state = self.lock();
        if state.closed {
            return Err(SendError::Closed);
        }
        let fits = state.items.is_empty() || state.bytes + len <= self.shared.limit;
        if !fits {
            return match self.shared.policy {
                OverflowPolicy::Drop => {
                    TrafficStats::add(&self.shared.stats.queue_dropped, 1);
                    Err(SendError::Dropped)
                }
                OverflowPolicy::Close => {
                    state.items.clear();
                    state.bytes = 0;
                    let (code, reason) = self.shared.overflow_close;
                    state.close = Some(CloseFrame::new(code, reason));
                    state.closed = true;
                    let waiter = state.take_waiter();
                    drop(state);
                    TrafficStats::add(&self.shared.stats.queue_overflow_closes, 1);
                    wake(waiter);
                    Err(SendError::Overflow)
                }
            };
        }
        state.bytes += len;
        state.items.push_back(msg);
        Ok(state)
    }

    /// Asks the connection to close after the messages already queued.
    /// Later sends fail with [`SendError::Closed`]. The first close wins.
    pub fn close(&self, frame: CloseFrame) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.close = Some(frame);
        state.closed = true;
        let waiter = state.take_waiter();
        drop(state);
        wake(waiter);
    }

    /// Whether the connection is closed or closing.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether messages wait in the queue.
    pub(crate) fn has_queued_messages(&self) -> bool {
        !self.lock().items.is_empty()
    }

    /// Bytes of payload waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Moves up to `max_bytes` of messages (at least one, if any) into `out`;
    /// once the queue is empty, also returns the pending close request.
    pub(crate) fn take_batch(
        &self,
        max_bytes: usize,
        out: &mut Vec<OutMessage>,
    ) -> Option<CloseFrame> {
        let mut state = self.lock();
        state.direct.disarm();
        let mut taken = 0;
        while let Some(front) = state.items.front() {
            if taken > 0 && taken + front.payload.len() > max_bytes {
                break;
            }
            taken += front.payload.len();
            if let Some(msg) = state.items.pop_front() {
                out.push(msg);
            }
        }
        state.bytes -= taken;
        if state.items.is_empty() {
            state.close.take()
        } else {
            None
        }
    }

    /// Ready when something is queued or a close is requested; otherwise
    /// the task is woken by the next send or close. A task with nothing of
    /// its own to write passes its socket as `lend`, so that
    /// [`Outbound::send_deferred`] and [`Outbound::flush`] can write to it
    /// until the task takes it back ([`Outbound::reclaim`]).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        lend: Option<&Arc<TcpStream>>,
    ) -> Poll<()> {
        let mut state = self.lock();
        if !state.items.is_empty() || state.close.is_some() || state.direct.has_rest() {
            return Poll::Ready(());
        }
        if let Some(stream) = lend {
            state.direct.arm(stream);
        }
        match &mut state.waiter {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Ready once a close is asked for (or the queue overflowed), even
    /// while messages are still queued; otherwise the task is woken by the
    /// next send or close.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(());
        }
        match &mut state.waiter {
            Some(waker) => waker.clone_from(cx.waker()),
            none => *none = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Drops the task's registration: it is running and checks the queue
    /// before it waits again.
    pub(crate) fn forget_waiter(&self) {
        self.lock().waiter = None;
    }

    /// Takes the pending close request, leaving whatever is still queued
    /// (for a client that will never read it).
    pub(crate) fn take_close(&self) -> Option<CloseFrame> {
        self.lock().close.take()
    }

    /// Marks the connection ended: queued messages are freed, sends fail.
    /// Returns the messages and payload bytes written from outside the task.
    pub(crate) fn finish(&self) -> (u64, u64) {
        let mut state = self.lock();
        state.closed = true;
        state.items = VecDeque::new();
        state.bytes = 0;
        state.waiter = None;
        state.direct.disarm();
        state.direct.written()
    }
}

fn wake(waiter: Option<Waker>) {
    if let Some(waker) = waiter {
        waker.wake();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn queue(limit: usize, policy: OverflowPolicy) -> (Outbound, Arc<TrafficStats>) {
        let stats = Arc::new(TrafficStats::default());
        (Outbound::new(limit, policy, stats.clone()), stats)
    }

    #[test]
    fn a_shared_message_is_compressed_once_per_setting() {
        let msg = OutMessage::text("hello").shared();
        let copy = msg.clone();
        let mut runs = 0;
        let first = msg.deflated_with((1, 15), || {
            runs += 1;
            Bytes::from_static(b"z")
        });
        let again = copy.deflated_with((1, 15), || {
            runs += 1;
            Bytes::from_static(b"other")
        });
        assert_eq!(
            (first.as_deref(), again.as_deref()),
            (Some(&b"z"[..]), Some(&b"z"[..]))
        );
        assert_eq!(runs, 1, "the clone reused the first compression");
        assert_eq!(
            copy.deflated_with((1, 10), Bytes::new),
            None,
            "other settings compress their own"
        );
        assert_eq!(
            OutMessage::text("x").deflated_with((1, 15), Bytes::new),
            None
        );
    }

    /// Counts its wake-ups.
    pub(crate) struct CountingWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    pub(crate) fn counting_waker() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker(Default::default()));
        (counter.clone(), Waker::from(counter))
    }

    pub(crate) fn wakes(counter: &CountingWaker) -> usize {
        counter.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_waiting_task_is_woken_once_by_the_first_send() {
        let (q, _) = queue(1 << 20, OverflowPolicy::Close);
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(q.poll_ready(&mut cx, None).is_pending());
        q.send(OutMessage::text("a")).unwrap();
        q.send(OutMessage::text("b")).unwrap();
        assert_eq!(wakes(&counter), 1, "only the first send wakes");
        assert!(q.poll_ready(&mut cx, None).is_ready());
        assert_eq!(wakes(&counter), 1, "a ready poll registers nothing");
    }

    #[test]
    fn a_close_request_wakes_the_waiting_task() {
        let (q, _) = queue(1 << 20, OverflowPolicy::Close);
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(q.poll_ready(&mut cx, None).is_pending());
        q.close(CloseFrame::new(4000, "bye"));
        assert_eq!(wakes(&counter), 1);
        assert!(
            q.poll_ready(&mut cx, None).is_ready(),
            "the close is there to take"
        );
    }

    #[test]
    fn drop_policy_counts_and_keeps_the_connection() {
        let (q, stats) = queue(10, OverflowPolicy::Drop);
        q.send(OutMessage::text("123456")).unwrap();
        assert_eq!(q.send(OutMessage::text("123456")), Err(SendError::Dropped));
        assert_eq!(TrafficStats::get(&stats.queue_dropped), 1);
        assert!(!q.is_closed());
        let mut out = Vec::new();
        assert_eq!(q.take_batch(1 << 20, &mut out), None);
        assert_eq!(out.len(), 1);
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn close_policy_discards_and_closes_with_1008() {
        let (q, stats) = queue(10, OverflowPolicy::Close);
        q.send(OutMessage::text("123456")).unwrap();
        assert_eq!(q.send(OutMessage::text("123456")), Err(SendError::Overflow));
        assert_eq!(q.send(OutMessage::text("1")), Err(SendError::Closed));
        let mut out = Vec::new();
        let close = q.take_batch(1 << 20, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(close.code, code::POLICY_VIOLATION);
        assert_eq!(TrafficStats::get(&stats.queue_overflow_closes), 1);
    }

    #[test]
    fn a_protocol_can_name_its_own_slow_consumer_close() {
        let stats = Arc::new(TrafficStats::default());
        let q = Outbound::new(4, OverflowPolicy::Close, stats).with_overflow_close(3008, "slow");
        q.send(OutMessage::text("1234")).unwrap();
        assert_eq!(q.send(OutMessage::text("5")), Err(SendError::Overflow));
        let close = q.take_batch(1 << 20, &mut Vec::new()).unwrap();
        assert_eq!((close.code, close.reason.as_str()), (3008, "slow"));
    }

    #[test]
    fn oversized_message_fits_an_empty_queue() {
        let (q, _) = queue(4, OverflowPolicy::Drop);
        q.send(OutMessage::binary(vec![0u8; 100])).unwrap();
        assert_eq!(
            q.send(OutMessage::binary(vec![0u8; 1])),
            Err(SendError::Dropped)
        );
    }

    #[test]
    fn close_comes_after_queued_messages() {
        let (q, _) = queue(1 << 20, OverflowPolicy::Close);
        for _ in 0..3 {
            q.send(OutMessage::text("abc")).unwrap();
        }
        q.close(CloseFrame::new(4000, "bye"));
        let mut out = Vec::new();
        assert_eq!(q.take_batch(3, &mut out), None);
        assert_eq!(out.len(), 1);
        let close = q.take_batch(1 << 20, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(close.code, 4000);
    }
}
