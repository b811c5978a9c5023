//! Graceful shutdown, one step after another on the cancellation tree.

use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use switchboard_hub::{Format, Target};
use switchboard_protocol::client::{disconnect, Push};
use switchboard_transport::close::code;
use switchboard_transport::{CloseFrame, OutMessage};

use crate::server::ShutdownReport;
use crate::state::AppState;

/// How long sinks get to flush after the connections are gone.
const SINK_FLUSH: Duration = Duration::from_secs(5);
/// How long idle HTTP connections get to finish once the listener stops.
const HTTP_FINISH: Duration = Duration::from_secs(5);

/// 1. readiness fails and new upgrades get 503 (the listener stays up so
///    probes see it); 2. the optional notice, then close 1001 to every
///    client; 3. wait for them up to `server.drain_timeout`, then end the
///    rest at once; 4. stop the listener and finish HTTP connections;
///    5. flush the sinks.
pub async fn drain(state: &AppState) -> ShutdownReport {
    let started = Instant::now();
    let life = &state.lifecycle;
    life.start_draining();
    tracing::info!(connections = state.hub.len(), "draining");

    if let Some(notice) = &state.config.server.shutdown_notice {
        let message = OutMessage::text(notice.clone());
        // Channels clients only understand protocol frames: a `message` push.
        let push = RawValue::from_string(serde_json::Value::from(notice.as_str()).to_string())
            .ok()
            .map(|raw| OutMessage::text(Push::Message(&raw).to_line("")));
        state.hub.send(Target::All, &[], |format| match format {
            Format::ChannelsPush => push.clone(),
            Format::Plain | Format::Envelope => Some(message.clone()),
        });
    }
    let frame = CloseFrame::new(code::GOING_AWAY, "server shutting down");
    // Channels clients get Centrifugo's own code (they reconnect either way).
    let shutdown = disconnect::SHUTDOWN;
    let channels_frame = CloseFrame::new(shutdown.code, shutdown.reason);
    let notified = state
        .hub
        .disconnect(Target::All, &[], |format| match format {
            Format::ChannelsPush => channels_frame.clone(),
            Format::Plain | Format::Envelope => frame.clone(),
        });

    life.sessions.close();
    let deadline = state.config.server.drain_timeout;
    let drained = tokio::time::timeout(deadline, life.sessions.wait())
        .await
        .is_ok();
    if !drained {
        tracing::warn!(
            left = state.hub.len(),
            "drain deadline passed; closing the rest"
        );
        life.force_close.cancel();
        life.sessions.wait().await;
    }

    life.stop_accepting.cancel();
    life.http.close();
    if tokio::time::timeout(HTTP_FINISH, life.http.wait())
        .await
        .is_err()
    {
        tracing::warn!("HTTP connections did not finish in time");
    }
    state.bus.shutdown(SINK_FLUSH).await;
    tracing::info!(took_ms = started.elapsed().as_millis() as u64, "stopped");
    ShutdownReport {
        notified,
        drained,
        took: started.elapsed(),
    }
}
