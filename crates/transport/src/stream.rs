//! Connections over one long HTTP response, for clients that cannot
//! upgrade: Server-Sent Events and newline-delimited HTTP streaming.
//!
//! The server writes to the response body; the client sends by other
//! requests, whose bodies the server layer routes into the connection's
//! inbox. One task runs the connection, as [`crate::serve`] does for a
//! WebSocket: it hands each inbox message to the [`Handler`] in order,
//! drains the [`Outbound`] queue into body chunks (many messages per
//! chunk), writes keep-alives so that proxies do not close a quiet
//! stream, and applies the idle and lifetime limits.
//!
//! The body is a bounded channel of chunks: a client that reads slowly
//! leaves messages in the outbound queue, where its overflow policy
//! applies, exactly as for a WebSocket.

use std::future::{poll_fn, Future};
use std::time::Duration;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::close::{code, CloseFrame};
use crate::connection::{ConnectionReport, ConnectionSettings, Heartbeat, Initiator};
use crate::message::{Handler, Message};
use crate::queue::{MessageKind, OutMessage, Outbound};
use crate::stats::TrafficStats;

/// Upper bound of queued payload framed into one body chunk.
const CHUNK_BYTES: usize = 64 * 1024;
/// Keep-alive period of streams whose endpoint sends no heartbeat: shorter
/// than the 30–60 s after which common proxies drop a quiet response.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(25);

/// How messages are laid out in the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `text/event-stream`: one event per message, each line of the text
    /// a `data:` field (the client joins them with `\n` again); binary
    /// messages as base64 in an event named `binary`.
    Sse,
    /// One message per line (the channels protocol's JSON lines).
    Lines,
}

impl Framing {
    /// Appends one event (named, or the default `message` event) to `out`.
    pub fn event(self, name: Option<&str>, data: &[u8], out: &mut BytesMut) {
        match self {
            Framing::Sse => {
                if let Some(name) = name {
                    out.put_slice(b"event: ");
                    out.put_slice(name.as_bytes());
                    out.put_u8(b'\n');
                }
                // CR, LF and CRLF all end an SSE line; each piece becomes a
                // `data:` field, which the client joins with LF.
                for line in split_lines(data) {
                    out.put_slice(b"data: ");
                    out.put_slice(line);
                    out.put_u8(b'\n');
                }
                out.put_u8(b'\n');
            }
            Framing::Lines => {
                out.put_slice(data);
                out.put_u8(b'\n');
            }
        }
    }

    /// Appends a queued message.
    fn message(self, msg: &OutMessage, out: &mut BytesMut) {
        match msg.kind {
            MessageKind::Text => self.event(None, &msg.payload, out),
            MessageKind::Binary => {
                let text = base64::engine::general_purpose::STANDARD.encode(&msg.payload);
                self.event(Some("binary"), text.as_bytes(), out);
            }
        }
    }

    /// What keeps a quiet stream alive: an SSE comment, or an empty line
    /// (the `centrifuge` SDK skips empty lines).
    fn keepalive(self) -> Bytes {
        match self {
            Framing::Sse => Bytes::from_static(b": ping\n\n"),
            Framing::Lines => Bytes::from_static(b"\n"),
        }
    }
}

fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(at) => {
                let skip = if text[at] == b'\r' && text.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                rest = Some(&text[at + skip..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

/// The two sides of a stream connection.
#[derive(Debug)]
pub struct StreamIo {
    /// Chunks of the response body, in order. When the client goes away
    /// the HTTP layer drops the receiver, which ends the connection.
    pub body: mpsc::Sender<Bytes>,
    /// What the client sent by other requests, in arrival order.
    pub inbox: mpsc::Receiver<Bytes>,
}

/// How a stream tells its client why it ends: a stream has no close frame,
/// so the protocol above chooses a last message (already framed).
pub type CloseMessage = Box<dyn Fn(&CloseFrame) -> Bytes + Send + Sync>;

/// Runs a stream connection to its end. `first` holds messages that came
/// with the request that opened the stream (the connect command); they are
/// handled before anything from the inbox.
#[allow(clippy::too_many_arguments)]
pub fn serve_stream<'a, H: Handler>(
    io: StreamIo,
    framing: Framing,
    first: Option<Bytes>,
    settings: &'a ConnectionSettings,
    outbound: Outbound,
    stats: &'a TrafficStats,
    handler: &'a mut H,
    close_message: &'a CloseMessage,
    cancel: CancellationToken,
) -> impl Future<Output = ConnectionReport> + Send + 'a {
    let StreamIo { body, mut inbox } = io;
    let keepalive = match settings.heartbeat {
        Heartbeat::Send { interval, .. } => interval,
        _ => DEFAULT_KEEPALIVE,
    };
    async move {
        let mut run = Run {
            started: Instant::now(),
            last_data: Instant::now(),
            last_write: Instant::now(),
            closing_since: None,
            report: ConnectionReport::lost(),
        };
        if let Some(data) = first {
            run.deliver(data, settings, stats, handler, &outbound).await;
        }
        let timer = sleep_until(run.next_deadline(settings, keepalive));
        tokio::pin!(timer);
        let mut batch = Vec::new();
        let mut inbox_open = true;
        loop {
            timer.as_mut().reset(run.next_deadline(settings, keepalive));
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    let frame = CloseFrame::new(code::GOING_AWAY, "server shutdown deadline");
                    let _ = body.try_send(close_message(&frame));
                    run.end(Initiator::Server, frame);
                    break;
                }
                () = body.closed() => {
                    run.end(Initiator::Network, CloseFrame::new(code::ABNORMAL, "stream closed"));
                    break;
                }
                permit = queued(&body, &outbound) => {
                    let Ok(permit) = permit else { continue };
                    let close = outbound.take_batch(CHUNK_BYTES, &mut batch);
                    let mut chunk = BytesMut::new();
                    for msg in batch.drain(..) {
                        framing.message(&msg, &mut chunk);
                        run.report.messages_out += 1;
                        run.report.bytes_out += msg.payload.len() as u64;
                        TrafficStats::add(&stats.messages_out, 1);
                        TrafficStats::add(&stats.bytes_out, msg.payload.len() as u64);
                    }
                    if let Some(frame) = &close {
                        chunk.put_slice(&close_message(frame));
                    }
                    if !chunk.is_empty() {
                        permit.send(chunk.freeze());
                        run.last_write = Instant::now();
                    }
                    if let Some(frame) = close {
                        run.end(Initiator::Server, frame);
                        break;
                    }
                }
                () = poll_fn(|cx| outbound.poll_closed(cx)), if run.closing_since.is_none() => {
                    // Closing while the client is not reading: it gets
                    // `close_timeout` to take what is queued.
                    run.closing_since = Some(Instant::now());
                }
                data = inbox.recv(), if inbox_open => match data {
                    Some(data) => run.deliver(data, settings, stats, handler, &outbound).await,
                    // The server layer dropped the sender: nobody can send any more.
                    None => {
                        inbox_open = false;
                        outbound.close(CloseFrame::new(code::GOING_AWAY, "session removed"));
                    }
                },
                () = &mut timer => {
                    if let Some(frame) = run.on_timer(settings, &outbound) {
                        run.end(Initiator::Server, frame);
                        break;
                    }
                    let quiet = run.last_write + keepalive <= Instant::now();
                    if quiet && body.try_send(framing.keepalive()).is_ok() {
                        run.last_write = Instant::now();
                    }
                }
            }
        }
        outbound.finish();
        run.report
    }
}

/// Ready with a permit to write one chunk once something is queued (or a
/// close is asked for) and the body has room.
async fn queued<'a>(
    body: &'a mpsc::Sender<Bytes>,
    outbound: &Outbound,
) -> Result<mpsc::Permit<'a, Bytes>, mpsc::error::SendError<()>> {
    poll_fn(|cx| outbound.poll_ready(cx, None)).await;
    body.reserve().await
}

/// A stream connection's timers and figures.
struct Run {
    started: Instant,
    last_data: Instant,
    last_write: Instant,
    /// When the queue was closed, if the client has not taken the close yet.
    closing_since: Option<Instant>,
    report: ConnectionReport,
}

impl Run {
    async fn deliver<H: Handler>(
        &mut self,
        data: Bytes,
        settings: &ConnectionSettings,
        stats: &TrafficStats,
        handler: &mut H,
        outbound: &Outbound,
    ) {
        if outbound.is_closed() {
            return;
        }
        let len = data.len() as u64;
        if data.len() > settings.max_message_size {
            outbound.close(CloseFrame::new(code::MESSAGE_TOO_BIG, "message too big"));
            return;
        }
        if std::str::from_utf8(&data).is_err() {
            outbound.close(CloseFrame::new(code::INVALID_PAYLOAD, "invalid UTF-8"));
            return;
        }
        self.last_data = Instant::now();
        self.report.messages_in += 1;
        self.report.bytes_in += len;
        TrafficStats::add(&stats.messages_in, 1);
        TrafficStats::add(&stats.bytes_in, len);
        if let Err(frame) = handler.on_message(Message::Text(data)).await {
            outbound.close(frame);
        }
    }

    fn next_deadline(&self, settings: &ConnectionSettings, keepalive: Duration) -> Instant {
        let mut at = self.last_write + keepalive;
        if let Some(t) = settings.idle_timeout {
            at = at.min(self.last_data + t);
        }
        if let Some(t) = settings.max_lifetime {
            at = at.min(self.started + t);
        }
        if let Some(since) = self.closing_since {
            at = at.min(since + settings.close_timeout);
        }
        at
    }

    /// Applies the limits whose time has come; the frame to end with when
    /// a closing client ran out of time.
    fn on_timer(&self, settings: &ConnectionSettings, outbound: &Outbound) -> Option<CloseFrame> {
        let now = Instant::now();
        if let Some(since) = self.closing_since {
            if now >= since + settings.close_timeout {
                let frame = outbound.take_close();
                return Some(frame.unwrap_or_else(|| CloseFrame::new(code::ABNORMAL, "")));
            }
        }
        if settings
            .max_lifetime
            .is_some_and(|t| now >= self.started + t)
        {
            outbound.close(CloseFrame::new(code::GOING_AWAY, "max lifetime reached"));
        } else if settings
            .idle_timeout
            .is_some_and(|t| now >= self.last_data + t)
        {
            outbound.close(CloseFrame::new(code::GOING_AWAY, "idle timeout"));
        }
        None
    }

    fn end(&mut self, initiator: Initiator, frame: CloseFrame) {
        self.report.initiator = initiator;
        self.report.close = frame;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::queue::OverflowPolicy;

    fn sse(data: &str) -> String {
        let mut out = BytesMut::new();
        Framing::Sse.event(None, data.as_bytes(), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn sse_splits_every_kind_of_line_end_into_data_fields() {
        assert_eq!(sse("{}"), "data: {}\n\n");
        assert_eq!(
            sse("a\nb\r\nc\rd"),
            "data: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(sse(""), "data: \n\n");
        assert_eq!(
            sse("x\n"),
            "data: x\ndata: \n\n",
            "a trailing newline survives"
        );
    }

    #[test]
    fn binary_messages_travel_as_base64_events() {
        let mut out = BytesMut::new();
        Framing::Sse.message(&OutMessage::binary(vec![0u8, 255]), &mut out);
        assert_eq!(&out[..], b"event: binary\ndata: AP8=\n\n");
    }

    /// Echoes every message; `quit` ends the connection.
    struct Echo(Outbound);
    impl Handler for Echo {
        async fn on_message(&mut self, m: Message) -> Result<(), CloseFrame> {
            if m.payload().as_ref() == b"quit" {
                return Err(CloseFrame::new(4000, "bye"));
            }
            let _ = self.0.send(OutMessage::text(m.payload().clone()));
            Ok(())
        }
    }

    /// One stream connection with an echo handler, its queue and settings.
    struct Fixture {
        stats: Arc<TrafficStats>,
        outbound: Outbound,
        settings: ConnectionSettings,
        close: CloseMessage,
    }

    impl Fixture {
        fn new(queue_limit: usize, settings: ConnectionSettings) -> Self {
            let stats = Arc::new(TrafficStats::default());
            let outbound = Outbound::new(queue_limit, OverflowPolicy::Close, stats.clone());
            let close: CloseMessage =
                Box::new(|f: &CloseFrame| Bytes::from(format!("close {}\n", f.code)));
            Self {
                stats,
                outbound,
                settings,
                close,
            }
        }

        async fn serve(
            &self,
            io: StreamIo,
            framing: Framing,
            first: Option<Bytes>,
        ) -> ConnectionReport {
            let mut echo = Echo(self.outbound.clone());
            let outbound = self.outbound.clone();
            let cancel = CancellationToken::new();
            let settings = &self.settings;
            serve_stream(
                io,
                framing,
                first,
                settings,
                outbound,
                &self.stats,
                &mut echo,
                &self.close,
                cancel,
            )
            .await
        }
    }

    /// Everything the client reads until the stream ends.
    async fn read_all(mut chunks: mpsc::Receiver<Bytes>) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            seen.push(String::from_utf8(chunk.to_vec()).unwrap());
        }
        seen
    }

    #[tokio::test]
    async fn messages_are_handled_in_order_and_replies_framed_then_closed() {
        let f = Fixture::new(1 << 20, ConnectionSettings::default());
        let (body, chunks) = mpsc::channel(4);
        let (post, inbox) = mpsc::channel(4);
        let task = f.serve(
            StreamIo { body, inbox },
            Framing::Lines,
            Some(Bytes::from("first")),
        );
        let client = async {
            post.send(Bytes::from("second")).await.unwrap();
            post.send(Bytes::from("quit")).await.unwrap();
            read_all(chunks).await.concat()
        };
        let (report, seen) = tokio::join!(task, client);
        assert_eq!(seen, "first\nsecond\nclose 4000\n");
        assert_eq!(report.close.code, 4000);
        assert_eq!(report.initiator, Initiator::Server);
        assert_eq!((report.messages_in, report.messages_out), (3, 2));
    }

    #[tokio::test]
    async fn a_client_that_goes_away_ends_the_connection() {
        let f = Fixture::new(1 << 20, ConnectionSettings::default());
        let (body, chunks) = mpsc::channel(4);
        let (_post, inbox) = mpsc::channel(4);
        drop(chunks);
        let report = f.serve(StreamIo { body, inbox }, Framing::Sse, None).await;
        assert_eq!(report.initiator, Initiator::Network);
        assert!(f.outbound.is_closed(), "later sends fail");
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_streams_get_keepalives_and_idle_ones_close() {
        let settings = ConnectionSettings {
            idle_timeout: Some(Duration::from_secs(60)),
            ..ConnectionSettings::default()
        };
        let f = Fixture::new(1 << 20, settings);
        let (body, chunks) = mpsc::channel(4);
        let (_post, inbox) = mpsc::channel(4);
        let task = f.serve(StreamIo { body, inbox }, Framing::Sse, None);
        let (report, seen) = tokio::join!(task, read_all(chunks));
        assert_eq!(seen, [": ping\n\n", ": ping\n\n", "close 1001\n"]);
        assert_eq!(report.close.reason, "idle timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped_after_the_close_timeout() {
        let f = Fixture::new(1024, ConnectionSettings::default());
        let (body, _chunks) = mpsc::channel(1);
        let (_post, inbox) = mpsc::channel(4);
        let task = f.serve(StreamIo { body, inbox }, Framing::Lines, None);
        let flood = async {
            // The body holds one chunk; everything after waits in the queue
            // until it overflows.
            for _ in 0..100 {
                if f.outbound.send(OutMessage::text(vec![b'x'; 200])).is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };
        let (report, ()) = tokio::join!(task, flood);
        assert_eq!(report.close.code, code::POLICY_VIOLATION);
        assert_eq!(report.initiator, Initiator::Server);
    }
}
