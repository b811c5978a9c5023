//! One WebSocket connection from upgrade to disconnect event.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use switchboard_config::{render_welcome, AuthMode, Mode};
use switchboard_hub::{ConnectionId, Entry, Registration};
use switchboard_protocol::event::{ConnectionInfo, DisconnectInfo, ErrorInfo, Event};
use switchboard_transport::close::code;
use switchboard_transport::{
    serve, serve_stream, CloseFrame, CloseMessage, ConnectionReport, DeflateParams, Framing,
    Initiator, OutMessage, Outbound, StreamIo,
};
use tokio::net::TcpStream;
use tracing::Instrument;

use super::handlers::{EchoHandler, ModeHandler, RawGuard, RawHandler, Refused};
use crate::auth::raw::RawAuth;
use crate::auth::Admission;
use crate::channels::ChannelsSession;
use crate::endpoint::{Endpoint, RejectReason};
use crate::limits::IpSlot;
use crate::state::AppState;

/// Everything a connection task needs, gathered during the handshake.
pub struct Session {
    pub state: AppState,
    pub endpoint: Arc<Endpoint>,
    pub id: ConnectionId,
    pub info: Arc<ConnectionInfo>,
    pub deflate: Option<DeflateParams>,
    /// What the handshake's credential decided.
    pub admission: Admission,
    /// Its place in `connections_per_ip`, held for the task's life and
    /// given back when it drops (boxed: most endpoints have no such limit).
    #[allow(dead_code)]
    pub ip_slot: Option<Box<IpSlot>>,
}

impl Session {
    /// Waits for the upgrade, then serves the connection to its end.
    ///
    /// An open connection's task keeps this future for its whole life, so
    /// it is kept small (ARCHITECTURE.md, "Idle connections"): a plain
    /// function returning an `async move` block (a block uses what it
    /// captures in place; an `async fn` would also copy its arguments), and
    /// the transport's future and the cleanup boxed. Awaited in place, the
    /// transport's future was laid out beside copies of what it was built
    /// from: the task's future measured 1,488 bytes; boxed, 224 bytes and a
    /// box of 568.
    pub fn run(self, on_upgrade: OnUpgrade) -> impl Future<Output = ()> + Send {
        let span =
            tracing::info_span!("connection", id = %self.id, endpoint = %self.endpoint.config.path);
        async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(err) => {
                    tracing::debug!(error = %err, "upgrade did not complete");
                    return;
                }
            };
            // Our listener serves plain HTTP/1 over TcpStream, so the upgraded
            // I/O is always that; taking the stream back lets the connection
            // wait on readiness without a second task or a lock.
            // Taken apart at once: a struct moved from only in part would
            // keep its place in this future across the awaits below.
            let (stream, preread) = match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => (parts.io.into_inner(), parts.read_buf),
                Err(_) => {
                    tracing::error!("upgraded connection is not a TCP stream");
                    return;
                }
            };
            let started = Instant::now();
            let (mut live, outbound) = self.start();
            let report = Box::pin(serve(
                stream,
                preread,
                self.deflate,
                &self.endpoint.connection,
                outbound,
                &self.endpoint.traffic,
                &mut live.handler,
                self.state.lifecycle.force_close.clone(),
            ))
            .await;
            Box::pin(self.end(live, report, started)).await;
        }
        .instrument(span)
    }

    /// Serves a client of the SSE or HTTP-streaming transport: `io` is its
    /// response body and inbox, `first` what came with its request (the
    /// connect command), `session` the id its POSTs name.
    pub fn run_stream(
        self,
        io: StreamIo,
        framing: Framing,
        first: Option<Bytes>,
        session: String,
        close_message: CloseMessage,
    ) -> impl Future<Output = ()> + Send {
        let span =
            tracing::info_span!("connection", id = %self.id, endpoint = %self.endpoint.config.path);
        async move {
            let started = Instant::now();
            let (mut live, outbound) = self.start();
            if let ModeHandler::Channels(channels) = &mut live.handler {
                channels.set_stream_session(session);
            }
            let report = Box::pin(serve_stream(
                io,
                framing,
                first,
                &self.endpoint.connection,
                outbound,
                &self.endpoint.traffic,
                &mut live.handler,
                &close_message,
                self.state.lifecycle.force_close.clone(),
            ))
            .await;
            Box::pin(self.end(live, report, started)).await;
        }
        .instrument(span)
    }

    /// After the transport ended: the handler's cleanup, then `finish`.
    async fn end(&self, live: Live, report: ConnectionReport, started: Instant) {
        let Live {
            handler,
            registration,
        } = live;
        let (registration, info) = match handler {
            ModeHandler::Refused(_) => return, // counted and reported in `start`
            ModeHandler::Channels(mut session) => {
                session.close().await;
                // Connect may have set the user: later events show it.
                (registration, session.connection_info())
            }
            ModeHandler::Raw(mut raw) => {
                // A client that proved itself after the upgrade was
                // registered then.
                let late = raw.guard.as_mut().and_then(|g| g.take_registration());
                (registration.or(late), raw.info.clone())
            }
            ModeHandler::Echo(_) => (registration, self.info.clone()),
        };
        self.finish(&report, started, registration, info);
    }

    /// Registers the connection and picks its handler (or refuses it when
    /// the endpoint is full).
    fn start(&self) -> (Live, Outbound) {
        let state = &self.state;
        let ep = &self.endpoint;
        let mut outbound = Outbound::new(
            ep.config.outbound_queue_bytes,
            ep.queue_policy(),
            ep.traffic.clone(),
        );
        if ep.config.mode == Mode::Channels {
            // Centrifugo's code for a slow client: the SDKs reconnect and recover.
            let slow = switchboard_protocol::client::disconnect::SLOW;
            outbound = outbound.with_overflow_close(slow.code, slow.reason);
        }

        let busy = state.sinks.busy_for(&ep.config.path);
        if busy.is_some() || !ep.try_reserve() {
            let (reason, kind, message) = match busy {
                Some(sink) => {
                    tracing::info!(
                        sink = sink.name(),
                        "refused: a sink's backlog is above busy_backlog"
                    );
                    (RejectReason::Busy, "busy", "backend busy, try again later")
                }
                None => {
                    tracing::info!("refused: endpoint at max_connections");
                    (RejectReason::Capacity, "capacity", "server at capacity")
                }
            };
            ep.counters.reject(reason);
            let error = ErrorInfo {
                kind: kind.into(),
                message: message.into(),
                close_code: Some(code::TRY_AGAIN_LATER),
            };
            state.bus.emit(Event::error(self.info.clone(), error));
            outbound.close(CloseFrame::new(code::TRY_AGAIN_LATER, message));
            let live = Live {
                handler: ModeHandler::Refused(Refused),
                registration: None,
            };
            return (live, outbound);
        }

        ep.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            info: self.info.clone(),
            outbound: outbound.clone(),
            format: ep.format(),
        };
        // A raw client that owes its credential is registered (and
        // announced) only once it has proven who it is.
        let waits = self.admission.pending && ep.config.mode == Mode::Raw;
        let (registration, waiting) = if waits {
            (None, Some(entry))
        } else {
            tracing::debug!(remote = %self.info.remote_addr, "connected");
            state.bus.emit(Event::connect(self.info.clone()));
            if ep.config.mode != Mode::Channels {
                // Channels sessions join `users` at their `connect` command.
                crate::held::user_connected(state, &self.info);
            }
            (Some(state.hub.register(self.id, entry)), None)
        };
        if ep.config.welcome {
            let welcome = render_welcome(
                &ep.config.welcome_message,
                &[
                    ("connection_id", self.info.id.as_str()),
                    ("endpoint", &self.info.endpoint),
                    ("timestamp", self.info.connected_at.as_str()),
                    ("remote_addr", self.info.remote_addr.as_str()),
                ],
            );
            let _ = outbound.send(OutMessage::text(welcome));
        }

        let handler = match ep.config.mode {
            Mode::Raw => ModeHandler::Raw(RawHandler {
                bus: state.bus.clone(),
                info: self.info.clone(),
                envelope: ep.format() == switchboard_hub::Format::Envelope,
                receipts: ep.config.receipts,
                guard: RawGuard::new(
                    (ep.config.auth.mode != AuthMode::None).then(|| {
                        RawAuth::new(
                            state.clone(),
                            ep.clone(),
                            self.id,
                            outbound.clone(),
                            self.admission.identity.as_deref(),
                            waiting,
                        )
                    }),
                    ep.message_limiter(),
                    state.sinks.may_be_busy(&ep.config.path).then(|| {
                        crate::ws::handlers::BusyCheck {
                            state: state.clone(),
                            endpoint: ep.clone(),
                        }
                    }),
                    ep.schema.is_some().then(|| ep.clone()),
                    &outbound,
                ),
            }),
            Mode::Echo => ModeHandler::Echo(EchoHandler {
                outbound: outbound.clone(),
            }),
            Mode::Channels => ModeHandler::Channels(Box::new(ChannelsSession::new(
                state.clone(),
                ep.clone(),
                self.id,
                self.info.clone(),
                outbound.clone(),
                &self.admission,
            ))),
        };
        let live = Live {
            handler,
            registration,
        };
        (live, outbound)
    }

    /// After the connection ended: it leaves the registry, then counters
    /// and events. A client that never proved who it was (`registration`
    /// is `None`) was never announced, so it gets no events either.
    fn finish(
        &self,
        report: &ConnectionReport,
        started: Instant,
        registration: Option<Registration>,
        info: Arc<ConnectionInfo>,
    ) {
        let state = &self.state;
        let ep = &self.endpoint;
        let announced = registration.is_some();
        drop(registration);
        ep.release();
        ep.counters.closed.fetch_add(1, Ordering::Relaxed);
        ep.counters.count_close(report.close.code);
        tracing::debug!(code = report.close.code, reason = %report.close.reason, "disconnected");
        if !announced {
            return;
        }
        if ep.config.mode != Mode::Channels {
            // Channels sessions leave `users` in their own close.
            state.users.disconnected(&info);
        }

        if let Some(error) = error_of(report) {
            state.bus.emit(Event::error(info.clone(), error));
        }
        let details = disconnect_info(report, started);
        state.bus.emit(Event::disconnect(info, details));
    }
}

/// What a connection keeps while it is open, besides the transport's state.
struct Live {
    handler: ModeHandler,
    /// `None` for a connection refused at capacity, or one that has not
    /// proven who it is yet.
    registration: Option<Registration>,
}

/// Connections the server failed for bad input also get an `error` event.
fn error_of(report: &ConnectionReport) -> Option<ErrorInfo> {
    if report.initiator != Initiator::Server {
        return None;
    }
    let kind = match report.close.code {
        code::PROTOCOL_ERROR => "protocol",
        code::INVALID_PAYLOAD => "invalid_payload",
        code::MESSAGE_TOO_BIG => "message_too_big",
        _ => return None,
    };
    Some(ErrorInfo {
        kind: kind.into(),
        message: report.close.reason.clone(),
        close_code: Some(report.close.code),
    })
}

fn disconnect_info(report: &ConnectionReport, started: Instant) -> DisconnectInfo {
    let initiator = match report.initiator {
        Initiator::Client => "client",
        Initiator::Server => "server",
        Initiator::Network => "network",
    };
    DisconnectInfo {
        code: report.close.code,
        reason: report.close.reason.clone(),
        initiator: initiator.into(),
        duration_ms: started.elapsed().as_millis() as u64,
        messages_in: report.messages_in,
        messages_out: report.messages_out,
        bytes_in: report.bytes_in,
        bytes_out: report.bytes_out,
    }
}
