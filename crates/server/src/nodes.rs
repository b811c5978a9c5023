//! The node registry: every node announces its figures every few seconds
//! with an expiry, so `info` lists all live nodes and a node that died
//! drops out by itself. It is kept by a presence manager on a reserved
//! channel name, which gives exactly that (entries per id, with expiry,
//! read whole) in memory and in Redis alike. The name contains a space, so
//! no client can subscribe to it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard_broker::{ClientInfo, PresenceManager};
use switchboard_protocol::api::NodeInfo;
use tokio_util::sync::CancellationToken;

use crate::api::this_node;
use crate::state::AppState;

const NODES_CHANNEL: &str = "switchboard nodes";

/// The registry and whether the broker answered the last announcement.
pub struct Nodes {
    registry: Arc<dyn PresenceManager>,
    healthy: AtomicBool,
}

impl Nodes {
    /// A registry over `registry` (a presence manager whose entries expire).
    pub fn new(registry: Arc<dyn PresenceManager>) -> Self {
        Self {
            registry,
            healthy: AtomicBool::new(true),
        }
    }

    /// Whether the broker answered the last announcement (`/readyz`).
    pub fn broker_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Writes this node's entry; records whether the broker answered.
    pub async fn announce(&self, node: &NodeInfo) {
        let info = ClientInfo {
            user: node.uid.clone(),
            client: node.uid.clone(),
            conn_info: serde_json::to_vec(node).ok().map(Bytes::from),
            chan_info: None,
        };
        let result = self.registry.add(NODES_CHANNEL, Arc::new(info)).await;
        if let Err(err) = &result {
            tracing::warn!(error = %err, "node announcement failed: the broker is unreachable");
        }
        self.healthy.store(result.is_ok(), Ordering::Relaxed);
    }

    /// Every live node, this one first with its current figures.
    pub async fn list(&self, this: NodeInfo) -> Vec<NodeInfo> {
        let others: Vec<NodeInfo> = match self.registry.presence(NODES_CHANNEL).await {
            Ok(entries) => entries
                .values()
                .filter(|entry| entry.client != this.uid)
                .filter_map(|entry| serde_json::from_slice(entry.conn_info.as_deref()?).ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut nodes = vec![this];
        nodes.extend(others);
        nodes
    }

    /// How many live nodes other than `uid` the registry knows (0 when it
    /// cannot be read: then there is nobody to wait for).
    pub async fn count_others(&self, uid: &str) -> usize {
        match self.registry.presence(NODES_CHANNEL).await {
            Ok(entries) => entries.keys().filter(|id| *id != uid).count(),
            Err(_) => 0,
        }
    }

    /// Whether node `uid` is live (false when the registry cannot be read).
    pub async fn is_live(&self, uid: &str) -> bool {
        match self.registry.presence(NODES_CHANNEL).await {
            Ok(entries) => entries.contains_key(uid),
            Err(_) => false,
        }
    }

    /// Leaves the registry at shutdown, so other nodes stop listing this one at once.
    pub async fn leave(&self, uid: &str) {
        let _ = self.registry.remove(NODES_CHANNEL, uid).await;
    }
}

/// Announces this node every `every` (the first one is the server's, at
/// start) until `stop`.
pub async fn announce_loop(state: AppState, every: Duration, stop: CancellationToken) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => state.nodes.announce(&this_node(&state)).await,
        }
    }
    state.nodes.leave(&state.node_uid).await;
}
