//! Writing to a connection from outside its task.
//!
//! A publication to 10,000 subscribers would otherwise wake 10,000 tasks,
//! each to write one frame: at that scale the wake-ups, polls and cache
//! misses of the tasks cost a quarter of the server's time. Instead, the
//! fan-out queues with [`Outbound::send_deferred`], which wakes nobody when
//! the task lends its socket, and a flusher calls [`Outbound::flush`] on
//! every connection it queued to, a moment later: everything queued by
//! then, from one publication or several, goes out in one system call.
//!
//! The byte stream stays whole because the socket is written either by the
//! task or here, never both: the task lends it only while it has nothing
//! of its own to write, and takes it back ([`Outbound::reclaim`], under
//! the queue's lock) before it writes anything; here every write happens
//! under the queue's lock while the socket is lent. A write that the socket
//! takes only in part hands the rest of its frames to the task, which
//! writes them before anything else.
//!
//! With a write delay (`ConnectionSettings::write_delay`), the flusher is
//! asked to wait that long after the first deferred message before it
//! flushes, so that what is queued meanwhile goes out in the same write,
//! still without a wake-up of the task.

use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::net::TcpStream;

use super::{wake, OutMessage, Outbound, SendError};
use crate::connection::WRITE_BATCH;
use crate::frame::encode_header;
use crate::stats::TrafficStats;

/// The queue's share of direct writes.
#[derive(Debug, Default)]
pub(super) struct Direct {
    /// The task's socket, while the task lends it.
    lent: Option<Arc<TcpStream>>,
    /// A flusher is due: `send_deferred` asked its caller for one.
    listed: bool,
    /// How long a flusher holds the first deferred message before writing,
    /// in microseconds: 4 bytes fit beside `listed`, where an
    /// `Option<Duration>` would add 16 to every connection.
    delay_us: u32,
    /// Framed bytes the socket did not take; the task writes them first.
    rest: Vec<u8>,
    /// Data messages and payload bytes written here, for the task's report.
    messages: u64,
    bytes: u64,
}

impl Direct {
    pub(super) fn arm(&mut self, stream: &Arc<TcpStream>) {
        if self.lent.is_none() {
            self.lent = Some(stream.clone());
        }
    }

    pub(super) fn disarm(&mut self) {
        self.lent = None;
        // A flush still due finds nothing to do; the next lend lists anew.
        self.listed = false;
    }

    /// A flush left bytes for the task: it must take them (and the
    /// socket) before it waits again, or later flushes would overtake them.
    pub(super) fn has_rest(&self) -> bool {
        !self.rest.is_empty()
    }

    pub(super) fn written(&self) -> (u64, u64) {
        (self.messages, self.bytes)
    }
}

impl Outbound {
    /// Queues a message for a flusher that will call [`Outbound::flush`].
    /// A connection that waits with nothing to write is not woken: the
    /// flusher writes its message, together with whatever else is queued by
    /// then. Returns `Ok(Some(delay))` when the caller must flush this
    /// connection once `delay` has passed (zero: soon), once however many
    /// messages it queued meanwhile; `Ok(None)` when a flush is already due
    /// or the connection's task writes it.
    pub fn send_deferred(&self, msg: OutMessage) -> Result<Option<Duration>, SendError> {
        let mut state = self.push(msg)?;
        if state.direct.lent.is_none() {
            let waiter = state.take_waiter();
            drop(state);
            wake(waiter);
            return Ok(None);
        }
        let listed = std::mem::replace(&mut state.direct.listed, true);
        Ok((!listed).then(|| Duration::from_micros(state.direct.delay_us.into())))
    }

    /// How long flushers hold a deferred message (the connection's
    /// `write_delay`; capped at u32::MAX µs, about 71 minutes); set once,
    /// before the socket is first lent.
    pub(crate) fn set_flush_delay(&self, delay: Option<Duration>) {
        let micros = delay.map_or(0, |delay| delay.as_micros());
        self.lock().direct.delay_us = u32::try_from(micros).unwrap_or(u32::MAX);
    }

    /// Writes what is queued (up to a batch) to the lent socket in one
    /// system call, framing into `scratch`. Whatever the socket does not
    /// take, what is left in the queue, and a pending close go back to the
    /// task, which is woken for them.
    pub fn flush(&self, scratch: &mut Vec<u8>) {
        let mut guard = self.lock();
        let state = &mut *guard;
        state.direct.listed = false;
        let Some(stream) = state.direct.lent.as_ref() else {
            return; // the task took the socket back, and the queue with it
        };
        scratch.clear();
        let (mut messages, mut payload) = (0u64, 0usize);
        while let Some(front) = state.items.front() {
            if messages > 0 && scratch.len() + front.payload.len() > WRITE_BATCH {
                break;
            }
            let Some(msg) = state.items.pop_front() else {
                break;
            };
            encode_header(scratch, true, false, msg.kind.opcode(), msg.payload.len());
            scratch.extend_from_slice(&msg.payload);
            messages += 1;
            payload += msg.payload.len();
        }
        if messages == 0 {
            return;
        }
        state.bytes -= payload;
        let stats = &self.shared.stats;
        TrafficStats::add(&stats.messages_out, messages);
        TrafficStats::add(&stats.bytes_out, payload as u64);
        state.direct.messages += messages;
        state.direct.bytes += payload as u64;
        // Straight to the socket, not through tokio's readiness: that may not
        // know yet that the socket is writable (it learns it on the task's
        // next turn) and would refuse without trying. If this meets a full
        // buffer, the task's own write meets it too and then waits for
        // readiness. An error is left to the task the same way.
        let written = SockRef::from(stream.as_ref()).send(scratch).unwrap_or(0);
        if written < scratch.len() {
            state.direct.rest.extend_from_slice(&scratch[written..]);
        }
        if written < scratch.len() || !state.items.is_empty() || state.close.is_some() {
            state.direct.disarm();
            let waiter = state.take_waiter();
            drop(guard);
            wake(waiter);
        }
    }

    /// The task takes its socket back before writing anything of its own;
    /// the bytes a flush left unwritten go first into its buffer.
    pub(crate) fn reclaim(&self, wbuf: &mut Vec<u8>) {
        let mut state = self.lock();
        state.direct.disarm();
        wbuf.extend_from_slice(&std::mem::take(&mut state.direct.rest));
    }
}

#[cfg(test)]
mod tests {
    use std::task::Context;

    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpSocket};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::connection::tests::Ignore;
    use crate::queue::tests::{counting_waker, wakes};
    use crate::queue::OverflowPolicy;
    use crate::{serve, ConnectionSettings};

    /// A pair of connected sockets whose buffers are small, so that writes
    /// are taken in part.
    async fn small_buffered_pair() -> (TcpStream, TcpStream) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener: TcpListener = socket.listen(8).unwrap();
        let client = TcpSocket::new_v4().unwrap();
        client.set_recv_buffer_size(4096).unwrap();
        let client = client
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server, client)
    }

    fn queue() -> Outbound {
        Outbound::new(1 << 24, OverflowPolicy::Close, Default::default())
    }

    #[tokio::test]
    async fn deferred_sends_wake_nobody_while_the_socket_is_lent() {
        let (server, mut client) = small_buffered_pair().await;
        let server = Arc::new(server);
        let q = queue();
        let (counter, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);

        // Not lent: the task is woken and writes it itself.
        assert!(q.poll_ready(&mut cx, None).is_pending());
        assert_eq!(q.send_deferred(OutMessage::text("a")), Ok(None));
        assert_eq!(wakes(&counter), 1);
        q.take_batch(1 << 20, &mut Vec::new());

        // Lent: the first deferred send asks for a flush, later ones do not.
        assert!(q.poll_ready(&mut cx, Some(&server)).is_pending());
        assert_eq!(
            q.send_deferred(OutMessage::text("b")),
            Ok(Some(Duration::ZERO))
        );
        assert_eq!(q.send_deferred(OutMessage::text("cd")), Ok(None));
        assert_eq!(wakes(&counter), 1, "no wake-up");
        q.flush(&mut Vec::new());
        let mut wire = [0u8; 7];
        client.read_exact(&mut wire).await.unwrap();
        assert_eq!(&wire, b"\x81\x01b\x81\x02cd");
        assert_eq!(q.finish(), (2, 3));
    }

    #[tokio::test]
    async fn a_write_delay_goes_to_whoever_must_flush() {
        let (server, _client) = small_buffered_pair().await;
        let server = Arc::new(server);
        let q = queue();
        q.set_flush_delay(Some(Duration::from_millis(10)));
        let (_, waker) = counting_waker();
        assert!(q
            .poll_ready(&mut Context::from_waker(&waker), Some(&server))
            .is_pending());
        let delay = q.send_deferred(OutMessage::text("a"));
        assert_eq!(delay, Ok(Some(Duration::from_millis(10))));
        assert_eq!(q.send_deferred(OutMessage::text("b")), Ok(None));
    }

    #[tokio::test]
    async fn a_flush_the_socket_takes_in_part_leaves_the_rest_to_the_task() {
        let (server, mut client) = small_buffered_pair().await;
        let server = Arc::new(server);
        let q = queue();
        let (counter, waker) = counting_waker();
        assert!(q
            .poll_ready(&mut Context::from_waker(&waker), Some(&server))
            .is_pending());
        let big = Bytes::from(vec![b'x'; 1 << 20]);
        assert!(q.send_deferred(OutMessage::binary(big)).unwrap().is_some());
        q.flush(&mut Vec::new());
        assert_eq!(wakes(&counter), 1, "the task is woken");
        let mut rest = Vec::new();
        q.reclaim(&mut rest);
        assert!(!rest.is_empty() && rest.len() < (1 << 20));
        assert!(rest.iter().all(|&b| b == b'x'), "only payload is left");
        // What the socket took plus the rest is the whole frame.
        let rest_len = rest.len();
        let writer = tokio::spawn(async move {
            let mut stream = Arc::try_unwrap(server).unwrap();
            stream.write_all(&rest).await.unwrap();
        });
        let mut wire = vec![0u8; 10 + (1 << 20)];
        client.read_exact(&mut wire).await.unwrap();
        writer.await.unwrap();
        assert_eq!(&wire[..2], &[0x82, 127]);
        assert!(wire[10..].iter().all(|&b| b == b'x'));
        assert!(rest_len > 0);
    }

    /// Reads one unmasked server frame from `buf`: (opcode, payload, length).
    fn parse(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
        let (b0, b1) = (*buf.first()?, *buf.get(1)?);
        assert_eq!(b1 & 0x80, 0, "server frames are not masked");
        let (len, at) = match b1 & 0x7f {
            126 => (u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize, 4),
            127 => panic!("no frame here is that large"),
            n => (n as usize, 2),
        };
        let payload = buf.get(at..at + len)?;
        Some((b0, payload, at + len))
    }

    /// A masked client frame.
    fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn frames_from_a_flusher_and_from_the_task_never_interleave() {
        const FRAMES: usize = 3000;
        let (server, mut client) = small_buffered_pair().await;
        let outbound = queue();
        let settings = ConnectionSettings::default();
        let stats = TrafficStats::default();
        let mut handler = Ignore;

        // A flusher on its own thread, as the hub's fan-out does it.
        let flusher_queue = outbound.clone();
        let flusher = std::thread::spawn(move || {
            let mut scratch = Vec::new();
            for i in 0..FRAMES {
                let text = format!("{i}:{}", "p".repeat(i % 300));
                if let Ok(Some(_)) = flusher_queue.send_deferred(OutMessage::text(text)) {
                    flusher_queue.flush(&mut scratch);
                }
                if i % 100 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
        });

        let client_side = async move {
            let (mut buf, mut next, mut pongs, mut pings) = (Vec::new(), 0usize, 0, 0);
            let mut chunk = [0u8; 512];
            while next < FRAMES {
                // Pings make the task write pongs between the flusher's frames.
                if pings < 200 {
                    client.write_all(&client_frame(0x9, b"hi")).await.unwrap();
                    pings += 1;
                }
                let n = client.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the server closed early");
                buf.extend_from_slice(&chunk[..n]);
                while let Some((b0, payload, used)) = parse(&buf) {
                    match b0 {
                        0x81 => {
                            let text = std::str::from_utf8(payload).unwrap();
                            let expected = format!("{next}:{}", "p".repeat(next % 300));
                            assert_eq!(text, expected, "frames arrive whole and in order");
                            next += 1;
                        }
                        0x8a => {
                            assert_eq!(payload, b"hi");
                            pongs += 1;
                        }
                        other => panic!("unexpected frame {other:#x}"),
                    }
                    buf.drain(..used);
                }
            }
            client
                .write_all(&client_frame(0x8, b"\x03\xe8"))
                .await
                .unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            pongs
        };
        let (report, pongs) = tokio::join!(
            serve(
                server,
                Bytes::new(),
                None,
                &settings,
                outbound,
                &stats,
                &mut handler,
                CancellationToken::new(),
            ),
            client_side
        );
        flusher.join().unwrap();
        assert!(pongs > 0, "the task wrote pongs meanwhile");
        assert_eq!(report.close.code, 1000);
        assert_eq!(report.messages_out, FRAMES as u64);
    }
}
