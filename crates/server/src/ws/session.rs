//! One WebSocket connection from upgrade to disconnect event.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use switchboard_config::{render_welcome, Mode};
use switchboard_hub::{ConnectionId, Entry};
use switchboard_protocol::event::{ConnectionInfo, DisconnectInfo, ErrorInfo, Event};
use switchboard_transport::close::code;
use switchboard_transport::{
    serve, CloseFrame, ConnectionReport, DeflateParams, Handler, Initiator, OutMessage, Outbound,
};
use tokio::net::TcpStream;
use tracing::Instrument;

use super::handlers::{EchoHandler, RawHandler, Refused};
use crate::channels::ChannelsSession;
use crate::endpoint::{Endpoint, RejectReason};
use crate::state::AppState;

/// Everything a connection task needs, gathered during the handshake.
pub struct Session {
    pub state: AppState,
    pub endpoint: Arc<Endpoint>,
    pub id: ConnectionId,
    pub info: Arc<ConnectionInfo>,
    pub deflate: Option<DeflateParams>,
}

impl Session {
    /// Waits for the upgrade, then serves the connection to its end.
    pub async fn run(self, on_upgrade: OnUpgrade) {
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
            let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                tracing::error!("upgraded connection is not a TCP stream");
                return;
            };
            let stream = parts.io.into_inner();
            self.serve(stream, parts.read_buf).await;
        }
        .instrument(span)
        .await
    }

    async fn serve(self, stream: TcpStream, preread: bytes::Bytes) {
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
        let wire = Wire {
            stream,
            preread,
            deflate: self.deflate,
        };

        if !ep.try_reserve() {
            ep.counters.reject(RejectReason::Capacity);
            tracing::info!("refused: endpoint at max_connections");
            let error = ErrorInfo {
                kind: "capacity".into(),
                message: "server at capacity".into(),
                close_code: Some(code::TRY_AGAIN_LATER),
            };
            state.bus.emit(Event::error(self.info.clone(), error));
            outbound.close(CloseFrame::new(code::TRY_AGAIN_LATER, "server at capacity"));
            self.drive(wire, outbound, &mut Refused).await;
            return;
        }

        ep.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            info: self.info.clone(),
            outbound: outbound.clone(),
            format: ep.format(),
        };
        let registration = state.hub.register(self.id, entry);
        tracing::debug!(remote = %self.info.remote_addr, "connected");
        state.bus.emit(Event::connect(self.info.clone()));
        if ep.config.welcome {
            let welcome = render_welcome(
                &ep.config.welcome_message,
                &[
                    ("connection_id", self.info.id.as_str()),
                    ("endpoint", self.info.endpoint.as_str()),
                    ("timestamp", self.info.connected_at.as_str()),
                    ("remote_addr", self.info.remote_addr.as_str()),
                ],
            );
            let _ = outbound.send(OutMessage::text(welcome));
        }

        let started = Instant::now();
        let mut info = self.info.clone();
        let report = match ep.config.mode {
            Mode::Raw => {
                let mut handler = RawHandler {
                    bus: state.bus.clone(),
                    info: self.info.clone(),
                    envelope: ep.format() == switchboard_hub::Format::Envelope,
                };
                self.drive(wire, outbound, &mut handler).await
            }
            Mode::Echo => {
                let mut handler = EchoHandler {
                    outbound: outbound.clone(),
                };
                self.drive(wire, outbound, &mut handler).await
            }
            Mode::Channels => {
                let mut session = ChannelsSession::new(
                    state.clone(),
                    self.id,
                    self.info.clone(),
                    outbound.clone(),
                );
                let report = self.drive(wire, outbound, &mut session).await;
                session.close().await;
                // Connect may have set the user: later events show it.
                info = session.connection_info();
                report
            }
        };
        drop(registration);
        ep.release();
        ep.counters.closed.fetch_add(1, Ordering::Relaxed);
        ep.counters.count_close(report.close.code);
        tracing::debug!(code = report.close.code, reason = %report.close.reason, "disconnected");

        if let Some(error) = error_of(&report) {
            state.bus.emit(Event::error(info.clone(), error));
        }
        let details = disconnect_info(&report, started);
        state.bus.emit(Event::disconnect(info, details));
    }
}

/// The socket and what was agreed during the handshake.
struct Wire {
    stream: TcpStream,
    preread: bytes::Bytes,
    deflate: Option<DeflateParams>,
}

impl Session {
    async fn drive<H: Handler>(
        &self,
        wire: Wire,
        outbound: Outbound,
        handler: &mut H,
    ) -> ConnectionReport {
        let ep = &self.endpoint;
        let cancel = self.state.lifecycle.force_close.clone();
        serve(
            wire.stream,
            wire.preread,
            wire.deflate,
            &ep.connection,
            outbound,
            &ep.traffic,
            handler,
            cancel,
        )
        .await
    }
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
