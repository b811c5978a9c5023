//! `info`: Centrifugo's node list, plus every endpoint with its settings
//! and live figures (what the n8n node's manual trigger shows).

use std::sync::atomic::Ordering;

use switchboard_config::HeartbeatMode;
use switchboard_protocol::api::{EndpointInfo, HeartbeatInfo, InfoResult, NodeInfo};

use super::Failure;
use crate::state::AppState;

/// `info` takes no parameters (Centrifugo's request is `{}`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoRequest {}

/// Builds the `info` result.
pub async fn call(state: &AppState, _request: InfoRequest) -> Result<InfoResult, Failure> {
    let mut result = snapshot(state);
    result.nodes = state.nodes.list(this_node(state)).await;
    Ok(result)
}

/// The current `info` figures of this node.
pub fn snapshot(state: &AppState) -> InfoResult {
    let uptime = state.started.elapsed().as_secs();
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let host = match state.local_addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_owned(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let endpoints = state
        .endpoints
        .iter()
        .map(|ep| {
            let hb = &ep.config.heartbeat;
            let c = &ep.counters;
            EndpointInfo {
                path: ep.config.path.clone(),
                url: format!("ws://{host}:{}{}", state.local_addr.port(), ep.config.path),
                mode: ep.mode_name().into(),
                active_connections: c.active.load(Ordering::Relaxed),
                max_connections: ep.config.max_connections as u64,
                heartbeat: HeartbeatInfo {
                    mode: match hb.mode {
                        HeartbeatMode::None => "none",
                        HeartbeatMode::Send => "send",
                        HeartbeatMode::Expect => "expect",
                    }
                    .into(),
                    interval_ms: hb.interval.as_millis() as u64,
                    timeout_ms: hb.timeout.as_millis() as u64,
                },
                compression: format!("{:?}", ep.config.compression).to_lowercase(),
                accepted: c.accepted.load(Ordering::Relaxed),
                rejected: c.rejected(),
                closed: c.closed.load(Ordering::Relaxed),
            }
        })
        .collect();
    let node = this_node(state);
    InfoResult {
        nodes: vec![node],
        version,
        uptime_seconds: uptime,
        endpoints,
    }
}

/// This node's figures, as `info` lists and the node registry announces them.
pub fn this_node(state: &AppState) -> NodeInfo {
    let channels = state.channels.channels();
    NodeInfo {
        uid: state.node_uid.clone(),
        name: state.local_addr.to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        num_clients: state.hub.len() as u64,
        num_users: state.hub.user_count() as u64,
        num_channels: channels.len() as u64,
        uptime: state.started.elapsed().as_secs(),
        num_subs: channels.iter().map(|c| c.num_clients as u64).sum(),
    }
}
