//! One WebSocket connection after the handshake: a single task that reads
//! frames, hands messages to a [`Handler`], writes what its [`Outbound`]
//! queue holds, keeps the heartbeat and the timeouts, and runs the close
//! handshake.
//!
//! Reads and writes are driven by socket readiness (`poll_read_ready`/
//! `poll_write_ready` with `try_read`/`try_write`), so one task serves both directions without
//! splitting the stream, and a client that stops reading never blocks the
//! timers. Buffers are allocated when data arrives and released when they
//! drain, so an idle connection holds none.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::close::{code, CloseFrame};
use crate::deflate::{DeflateCodec, DeflateParams};
use crate::error::ProtocolError;
use crate::frame::{encode_header, OpCode};
use crate::message::Handler;
use crate::queue::{OutMessage, Outbound};
use crate::reader::{FrameReader, Inbound};
use crate::stats::TrafficStats;

mod wait;
use wait::{Wait, Wake};

/// Keep-alive behaviour of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Heartbeat {
    /// Answer the client's pings; send none.
    #[default]
    None,
    /// Ping every `interval`; a client that has not answered within `timeout` is terminated.
    Send {
        /// Time between pings.
        interval: Duration,
        /// How long a pong may take.
        timeout: Duration,
    },
    /// The client must ping at least every `interval`, with `timeout` of grace.
    Expect {
        /// The client's ping period.
        interval: Duration,
        /// Grace on top of the period.
        timeout: Duration,
    },
}

/// Per-endpoint limits and timers for each connection.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Largest message accepted, after inflating; larger closes with 1009.
    pub max_message_size: usize,
    /// Keep-alive mode.
    pub heartbeat: Heartbeat,
    /// Close with 1001 after this long without a data message from the client.
    pub idle_timeout: Option<Duration>,
    /// Close with 1001 when the connection is this old.
    pub max_lifetime: Option<Duration>,
    /// How long to wait for the client's reply to our close frame.
    pub close_timeout: Duration,
    /// Hold outgoing messages up to this long and write them in one go.
    pub write_delay: Option<Duration>,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            heartbeat: Heartbeat::None,
            idle_timeout: None,
            max_lifetime: None,
            close_timeout: Duration::from_secs(5),
            write_delay: None,
        }
    }
}

/// Who ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// The client sent a close frame.
    Client,
    /// The server closed (limit, timeout, API drop, shutdown, protocol error).
    Server,
    /// The TCP connection ended without a close handshake.
    Network,
}

/// How a connection ended, for the `disconnect` event and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// The close code and reason (1006 when the TCP connection just ended).
    pub close: CloseFrame,
    /// Who started the close.
    pub initiator: Initiator,
    /// Data messages received.
    pub messages_in: u64,
    /// Data messages sent.
    pub messages_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes sent.
    pub bytes_out: u64,
}

impl ConnectionReport {
    /// A connection's report before it ends: until something else is
    /// known, it counts as lost (1006, by the network), nothing moved yet.
    pub(crate) fn lost() -> Self {
        Self {
            close: CloseFrame::new(code::ABNORMAL, ""),
            initiator: Initiator::Network,
            messages_in: 0,
            messages_out: 0,
            bytes_in: 0,
            bytes_out: 0,
        }
    }
}

/// Upper bound of queued payload moved into the write buffer at once.
pub(crate) const WRITE_BATCH: usize = 64 * 1024;
/// Read at most this much per readiness event, so one client cannot starve others.
const READ_CHUNK: usize = 64 * 1024;
/// Buffers above this capacity are released once drained.
const KEEP_CAPACITY: usize = 16 * 1024;
/// Pongs owed at once; past this a ping flood loses its oldest answers
/// (RFC 6455 §5.5.3 allows answering only the latest) instead of growing memory.
const MAX_PENDING_PONGS: usize = 32;
/// A connection that nothing but its timer has woken for this long waits
/// without its loop's future (see `serve`).
const QUIET_AFTER: Duration = Duration::from_millis(100);
/// How long a connection failed for bad input waits for the client's EOF.
const FAILED_CLOSE_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// We sent a close frame and wait for the client's (or EOF) until the deadline.
    Closing {
        deadline: Instant,
    },
    /// We answered the client's close; end once it is written.
    Replied,
    /// The socket must be dropped now.
    Done,
}

/// Runs a connection to its end. `preread` holds bytes the HTTP layer read
/// past the handshake. The handler is borrowed so that its owner can clean
/// up (unsubscribe, leave) after the connection ends.
///
/// Not an `async fn`: the connection's state is built here and moved into
/// the future once, so the future does not also keep the arguments it was
/// built from (an open connection keeps this future for its whole life).
#[allow(clippy::too_many_arguments)]
pub fn serve<'a, H: Handler>(
    stream: TcpStream,
    preread: Bytes,
    deflate: Option<DeflateParams>,
    settings: &'a ConnectionSettings,
    outbound: Outbound,
    stats: &'a TrafficStats,
    handler: &'a mut H,
    cancel: CancellationToken,
) -> impl Future<Output = ConnectionReport> + Send + 'a {
    let mut conn = Connection {
        stream: Arc::new(stream),
        outbound,
        lent: false,
        settings,
        stats,
        rbuf: BytesMut::from(&preread[..]),
        wbuf: Vec::new(),
        wpos: 0,
        reader: FrameReader::new(settings.max_message_size),
        codec: deflate.map(|params| Box::new(DeflateCodec::new(params))),
        phase: Phase::Open,
        discard_input: false,
        pending_pongs: Vec::new(),
        pending_ping: false,
        outcome: None,
        started: Instant::now(),
        last_data: Instant::now(),
        last_client_ping: Instant::now(),
        woke_at: None,
        next_ping: None,
        pong_deadline: None,
        flush_at: None,
        report: ConnectionReport::lost(),
    };
    // `preread` may be a slice of the HTTP layer's whole read buffer; the
    // copy above is all we need, so let that buffer go now rather than hold
    // it for the connection's lifetime.
    drop(preread);
    conn.outbound.set_flush_delay(settings.write_delay);
    if let Heartbeat::Send { interval, .. } = settings.heartbeat {
        conn.next_ping = Some(conn.started + interval);
    }
    // An `async move` block, not an `async fn` taking `conn`: a block
    // uses its captures in place, a function copies its arguments into
    // locals and keeps both.
    async move {
        // One timer and one cancellation future for the connection's whole
        // life, not one per loop turn. The timer is boxed so that connections
        // without deadlines (no heartbeat, no timeouts) carry none.
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        let cancelled = cancel.cancelled();
        tokio::pin!(cancelled);
        let mut wake = None;
        // Busy turns run in a boxed future that exists only while there is
        // work: it holds the handler's futures, the largest part of the
        // connection's state. A quiet connection waits here with only its
        // fields, so the task it keeps is small (ARCHITECTURE.md, "Idle
        // connections").
        loop {
            let busy = conn.run_busy(handler, cancelled.as_mut(), &mut timer, wake.take());
            let Some(wait) = Box::pin(busy).await else {
                break;
            };
            wake = Some(
                poll_fn(|cx| {
                    wait.poll(
                        cx,
                        &conn.stream,
                        &conn.outbound,
                        cancelled.as_mut(),
                        timer.as_mut().map(Pin::as_mut),
                    )
                })
                .await,
            );
        }
        let (messages, bytes) = conn.outbound.finish();
        conn.report.messages_out += messages;
        conn.report.bytes_out += bytes;
        std::mem::replace(&mut conn.report, ConnectionReport::lost())
    }
}

struct Connection<'a> {
    /// Shared with the queue while lent to it (see `queue::direct`).
    stream: Arc<TcpStream>,
    outbound: Outbound,
    /// The socket may be lent: take it back before writing.
    lent: bool,
    settings: &'a ConnectionSettings,
    stats: &'a TrafficStats,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    wpos: usize,
    reader: FrameReader,
    /// Boxed: most connections do not compress, and every one keeps this.
    codec: Option<Box<DeflateCodec>>,
    phase: Phase,
    /// After a protocol error the byte stream cannot be parsed any more.
    discard_input: bool,
    pending_pongs: Vec<Bytes>,
    pending_ping: bool,
    /// Set once the report's close is decided, so the first cause wins.
    outcome: Option<Initiator>,
    started: Instant,
    last_data: Instant,
    last_client_ping: Instant,
    /// When input, the queue or the socket's room last woke the loop (not
    /// its timer: a heartbeat or the quiet deadline is no reason to stay busy).
    woke_at: Option<Instant>,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    /// With `write_delay`: when the messages waiting now are written.
    flush_at: Option<Instant>,
    report: ConnectionReport,
}

impl Drop for Connection<'_> {
    /// However the task ends, the queue stops taking messages and lets go
    /// of the socket.
    fn drop(&mut self) {
        self.outbound.finish();
    }
}

impl Connection<'_> {
    /// Runs the connection's loop until it ends (`None`) or has nothing to
    /// do but wait for a while (`Some`: what to wait for). `first` is what
    /// ended the previous wait; the first call handles the bytes that came
    /// with the handshake instead.
    async fn run_busy<H: Handler>(
        &mut self,
        handler: &mut H,
        mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
        timer: &mut Option<Pin<Box<Sleep>>>,
        first: Option<Wake>,
    ) -> Option<Wait> {
        let open = match first {
            Some(wake) => self.on_wake(wake, handler).await,
            None => {
                if !self.rbuf.is_empty() {
                    self.process_input(handler).await;
                }
                true
            }
        };
        if !open {
            return None;
        }
        while self.phase != Phase::Done {
            if self.write_pending() == 0 && self.time_to_write() {
                self.fill_write_buffer();
                if self.phase == Phase::Replied && self.write_pending() == 0 {
                    return None;
                }
            }
            // Not while `write_delay` holds queued messages: the timer ends the hold.
            let queue =
                self.write_pending() == 0 && self.phase == Phase::Open && self.flush_at.is_none();
            let quiet_at = if queue { self.quiet_at() } else { None };
            // Nothing to write and no recent input: wait outside this future.
            let quiet = queue && quiet_at.is_none();
            if quiet {
                self.wbuf = Vec::new();
                if self.next_deadline().is_none() {
                    *timer = None;
                }
            }
            let deadline = [self.next_deadline(), quiet_at].into_iter().flatten().min();
            if let Some(at) = deadline {
                match timer {
                    // An earlier pending deadline is kept: waking early
                    // costs a turn, resetting the timer on every message
                    // (as the quiet deadline moves) costs more.
                    Some(t)
                        if t.deadline() == at
                            || (quiet_at == Some(at) && t.deadline() < at && !t.is_elapsed()) => {}
                    Some(t) => t.as_mut().reset(at),
                    None => *timer = Some(Box::pin(sleep_until(at))),
                }
            }
            let wait = Wait {
                writing: self.write_pending() > 0,
                reading: self.phase != Phase::Replied,
                queue,
                // Frames written from outside are never compressed; their
                // writers hold them for `write_delay` (`Outbound::send_deferred`).
                lend: queue && self.codec.is_none(),
                timer: deadline.is_some(),
            };
            self.lent |= wait.lend;
            if quiet {
                return Some(wait);
            }
            let wake = poll_fn(|cx| {
                wait.poll(
                    cx,
                    &self.stream,
                    &self.outbound,
                    cancelled.as_mut(),
                    timer.as_mut().map(Pin::as_mut),
                )
            })
            .await;
            if !self.on_wake(wake, handler).await {
                return None;
            }
        }
        None
    }

    /// Handles what ended a wait. Returns false when the connection ends.
    async fn on_wake<H: Handler>(&mut self, wake: Wake, handler: &mut H) -> bool {
        if matches!(wake, Wake::Readable(_) | Wake::Writable(_) | Wake::Queue) {
            self.woke_at = Some(Instant::now());
        }
        match wake {
            Wake::Cancelled => {
                self.finish_server(CloseFrame::new(
                    code::GOING_AWAY,
                    "server shutdown deadline",
                ));
                return false;
            }
            Wake::Writable(ready) => {
                if ready.is_err() || self.flush_some().is_err() {
                    return false;
                }
                self.after_write().await;
            }
            Wake::Readable(ready) => {
                if ready.is_err() || !self.read_some() {
                    return false;
                }
                // The task runs: a reply the handler queues needs no
                // wake-up (it would poll the task once more for nothing).
                self.outbound.forget_waiter();
                self.process_input(handler).await;
            }
            Wake::Queue => {}
            Wake::Timer => self.on_timer(),
        }
        true
    }

    /// While input arrives or writes go on, the connection stays busy (its
    /// loop future and write buffer kept, not rebuilt per message) until
    /// `QUIET_AFTER` after the last such wake-up. `None`: quiet now.
    fn quiet_at(&self) -> Option<Instant> {
        self.woke_at
            .map(|at| at + QUIET_AFTER)
            .filter(|at| *at > Instant::now())
    }

    fn write_pending(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Reads what is available. Returns false when the socket is finished.
    fn read_some(&mut self) -> bool {
        let wanted = FrameReader::bytes_wanted(&self.rbuf).clamp(4096, READ_CHUNK);
        self.rbuf.reserve(wanted);
        let room = self.rbuf.capacity() - self.rbuf.len();
        let (stream, rbuf) = (&self.stream, &mut self.rbuf);
        let mut read = None;
        // A read that did not fill the room emptied the socket's receive
        // queue, so its readiness is cleared now, as a `WouldBlock` would
        // clear it: the next turn waits instead of spending a second read
        // on EAGAIN (one system call less per message for request/response
        // traffic). `try_io` clears only the readiness it saw before this
        // read, so bytes that arrive after it still wake the task.
        let result = stream.try_io(Interest::READABLE, || {
            let n = stream.try_read_buf(rbuf)?;
            read = Some(n);
            if n > 0 && n < room {
                Err(std::io::ErrorKind::WouldBlock.into())
            } else {
                Ok(n)
            }
        });
        match (read, result) {
            (Some(0), _) => {
                // EOF: a clean end if we were waiting for the client's close.
                if !matches!(self.phase, Phase::Closing { .. }) {
                    self.record(
                        Initiator::Network,
                        CloseFrame::new(code::ABNORMAL, "connection lost"),
                    );
                }
                false
            }
            (Some(_), _) | (None, Ok(_)) => true,
            (None, Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => true,
            (None, Err(_)) => {
                self.record(
                    Initiator::Network,
                    CloseFrame::new(code::ABNORMAL, "connection reset"),
                );
                false
            }
        }
    }

    async fn process_input<H: Handler>(&mut self, handler: &mut H) {
        if self.discard_input {
            self.rbuf.clear();
        }
        while !self.discard_input {
            let event = match self.reader.next(&mut self.rbuf, self.codec.as_deref_mut()) {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(err) => {
                    self.fail(err);
                    break;
                }
            };
            match event {
                Inbound::Message(message) => {
                    if self.phase != Phase::Open {
                        continue; // data after our close frame is discarded (RFC 6455 §1.4)
                    }
                    self.last_data = Instant::now();
                    self.report.messages_in += 1;
                    let len = message.payload().len() as u64;
                    self.report.bytes_in += len;
                    TrafficStats::add(&self.stats.messages_in, 1);
                    TrafficStats::add(&self.stats.bytes_in, len);
                    if let Err(close) = handler.on_message(message).await {
                        self.outbound.close(close);
                    }
                }
                Inbound::Ping(payload) => {
                    self.last_client_ping = Instant::now();
                    if self.phase == Phase::Open {
                        if self.pending_pongs.len() == MAX_PENDING_PONGS {
                            self.pending_pongs.remove(0);
                        }
                        self.pending_pongs.push(payload);
                    }
                }
                Inbound::Pong => self.pong_deadline = None,
                Inbound::Close(frame) => self.on_close_frame(frame),
            }
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            self.rbuf = BytesMut::new();
        }
    }

    fn on_close_frame(&mut self, frame: Option<CloseFrame>) {
        match self.phase {
            Phase::Open => {
                let reply = match &frame {
                    Some(f) => CloseFrame::new(f.code, ""),
                    None => CloseFrame::new(code::NORMAL, ""),
                };
                let reported = frame.unwrap_or_else(|| CloseFrame::new(code::NO_STATUS, ""));
                self.record(Initiator::Client, reported);
                self.push_close(&reply);
                self.phase = Phase::Replied;
            }
            Phase::Closing { .. } => self.phase = Phase::Done,
            Phase::Replied | Phase::Done => {}
        }
        self.discard_input = true;
    }

    /// Fails the connection: close with the error's code, read no more frames.
    fn fail(&mut self, err: ProtocolError) {
        tracing::debug!(error = %err, "protocol error");
        self.start_close(CloseFrame::new(err.close_code(), err.to_string()));
        self.discard_input = true;
        // The client's close reply can no longer be recognised in the input,
        // so only EOF ends the handshake; give the client a moment to read our
        // close frame, not the full close timeout.
        if let Phase::Closing { deadline } = &mut self.phase {
            *deadline = (*deadline).min(Instant::now() + FAILED_CLOSE_GRACE);
        }
    }

    /// Begins a server-initiated close handshake.
    fn start_close(&mut self, frame: CloseFrame) {
        if self.phase != Phase::Open {
            return;
        }
        self.record(Initiator::Server, frame.clone());
        self.push_close(&frame);
        self.phase = Phase::Closing {
            deadline: Instant::now() + self.settings.close_timeout,
        };
    }

    /// Ends at once after a best-effort close frame (dead peers, forced shutdown).
    fn finish_server(&mut self, frame: CloseFrame) {
        if self.phase == Phase::Open {
            self.record(Initiator::Server, frame.clone());
            self.push_close(&frame);
            let _ = self.flush_some();
        }
        self.phase = Phase::Done;
    }

    fn record(&mut self, initiator: Initiator, close: CloseFrame) {
        if self.outcome.is_none() {
            self.outcome = Some(initiator);
            self.report.initiator = initiator;
            self.report.close = close;
        }
    }

    fn push_close(&mut self, frame: &CloseFrame) {
        self.reclaim_socket();
        let payload = frame.payload();
        encode_header(&mut self.wbuf, true, false, OpCode::Close, payload.len());
        self.wbuf.extend_from_slice(&payload);
    }

    /// Whether to fill the write buffer now. With `write_delay`, queued
    /// messages wait until the delay after the first of them has passed, so
    /// those sent meanwhile go out in the same write (control frames and
    /// closes do not wait).
    fn time_to_write(&mut self) -> bool {
        let Some(delay) = self.settings.write_delay else {
            return true;
        };
        let urgent =
            self.phase != Phase::Open || self.pending_ping || !self.pending_pongs.is_empty();
        if urgent || !self.outbound.has_queued_messages() {
            self.flush_at = None;
            return true;
        }
        let now = Instant::now();
        match self.flush_at {
            Some(at) if now >= at => {
                self.flush_at = None;
                true
            }
            Some(_) => false,
            None => {
                self.flush_at = Some(now + delay);
                false
            }
        }
    }

    /// Takes the socket back from the queue before the task writes to it;
    /// what a flush left unwritten goes first into the write buffer.
    fn reclaim_socket(&mut self) {
        if std::mem::take(&mut self.lent) {
            self.outbound.reclaim(&mut self.wbuf);
        }
    }

    /// Moves control frames and queued messages into the empty write buffer.
    fn fill_write_buffer(&mut self) {
        self.reclaim_socket();
        if self.phase != Phase::Open {
            return;
        }
        for payload in std::mem::take(&mut self.pending_pongs) {
            encode_header(&mut self.wbuf, true, false, OpCode::Pong, payload.len());
            self.wbuf.extend_from_slice(&payload);
        }
        if std::mem::take(&mut self.pending_ping) {
            encode_header(&mut self.wbuf, true, false, OpCode::Ping, 0);
        }
        let mut batch = Vec::new();
        let close = self.outbound.take_batch(WRITE_BATCH, &mut batch);
        for msg in batch {
            self.encode_message(&msg);
        }
        if let Some(frame) = close {
            self.start_close(frame);
        }
    }

    fn encode_message(&mut self, msg: &OutMessage) {
        let opcode = msg.kind.opcode();
        let len = msg.payload.len() as u64;
        self.report.messages_out += 1;
        self.report.bytes_out += len;
        TrafficStats::add(&self.stats.messages_out, 1);
        TrafficStats::add(&self.stats.bytes_out, len);
        match self.codec.as_deref_mut() {
            Some(codec) if codec.should_compress(msg.payload.len()) => {
                let shared_key = codec.shared_key();
                let mut compress = || {
                    let mut z = Vec::new();
                    codec.compress(&msg.payload, &mut z);
                    Bytes::from(z)
                };
                // A publication is compressed once for every connection
                // that compresses without context, not once per connection.
                let z = match shared_key {
                    Some(key) => msg.deflated_with(key, &mut compress),
                    None => None,
                }
                .unwrap_or_else(compress);
                encode_header(&mut self.wbuf, true, true, opcode, z.len());
                self.wbuf.extend_from_slice(&z);
            }
            _ => {
                encode_header(&mut self.wbuf, true, false, opcode, msg.payload.len());
                self.wbuf.extend_from_slice(&msg.payload);
            }
        }
    }

    /// Writes as much of the buffer as the socket takes now.
    fn flush_some(&mut self) -> std::io::Result<()> {
        while self.wpos < self.wbuf.len() {
            match self.stream.try_write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    self.record(
                        Initiator::Network,
                        CloseFrame::new(code::ABNORMAL, "write failed"),
                    );
                    return Err(e);
                }
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > KEEP_CAPACITY {
            self.wbuf = Vec::new();
        }
        Ok(())
    }

    /// Once our close frame is on the wire, half-close so the client sees
    /// EOF after it and answers promptly.
    async fn after_write(&mut self) {
        if self.write_pending() == 0 && matches!(self.phase, Phase::Closing { .. }) {
            // Not lent (the close frame was written by this task), so the
            // task holds the only handle.
            if let Some(stream) = Arc::get_mut(&mut self.stream) {
                let _ = stream.shutdown().await;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let s = self.settings;
        let closing = match self.phase {
            Phase::Closing { deadline } => Some(deadline),
            _ => None,
        };
        let expect = match s.heartbeat {
            Heartbeat::Expect { interval, timeout } => {
                Some(self.last_client_ping + interval + timeout)
            }
            _ => None,
        };
        [
            closing,
            self.flush_at,
            self.next_ping,
            self.pong_deadline,
            expect,
            s.idle_timeout.map(|t| self.last_data + t),
            s.max_lifetime.map(|t| self.started + t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        let s = self.settings;
        if let Phase::Closing { deadline } = self.phase {
            if now >= deadline {
                self.phase = Phase::Done;
            }
            return;
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.finish_server(CloseFrame::new(
                code::INTERNAL_ERROR,
                "heartbeat timeout: no pong",
            ));
            return;
        }
        if let Heartbeat::Expect { interval, timeout } = s.heartbeat {
            if now >= self.last_client_ping + interval + timeout {
                self.start_close(CloseFrame::new(
                    code::POLICY_VIOLATION,
                    "heartbeat timeout: no ping",
                ));
                return;
            }
        }
        if s.max_lifetime.is_some_and(|t| now >= self.started + t) {
            self.start_close(CloseFrame::new(code::GOING_AWAY, "max lifetime reached"));
            return;
        }
        if s.idle_timeout.is_some_and(|t| now >= self.last_data + t) {
            self.start_close(CloseFrame::new(code::GOING_AWAY, "idle timeout"));
            return;
        }
        if let (Some(at), Heartbeat::Send { interval, timeout }) = (self.next_ping, s.heartbeat) {
            if now >= at {
                self.pending_ping = true;
                self.next_ping = Some(now + interval);
                if self.pong_deadline.is_none() {
                    self.pong_deadline = Some(now + timeout);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
