//! The state every route and connection task shares, behind one `Arc`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use switchboard_config::Config;
use switchboard_hub::{ChannelHub, Hub};
use switchboard_sinks::EventBus;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use switchboard_auth::{KeyRing, Verifier};

use crate::auth::revoked::Revoked;
use crate::auth::Deadlines;
use crate::broker_metrics::BrokerMetrics;
use crate::channels::keepalive::KeepAlive;
use crate::cluster::Cluster;
use crate::endpoint::Endpoint;
use crate::nodes::Nodes;
use crate::sinks::Sinks;
use crate::tls::Tls;
use crate::users::Users;

/// Shared server state; cloned as `Arc<Shared>` into every handler.
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// Endpoints in config order.
    pub endpoints: Vec<Arc<Endpoint>>,
    /// The connection registry.
    pub hub: Hub,
    /// Channels: subscriptions, publications, presence, history.
    pub channels: ChannelHub,
    /// Protocol-level pings of `channels` sessions.
    pub keepalive: Arc<KeepAlive>,
    /// Verifies tokens with the keys of `[auth.jwt]`.
    pub verifier: Arc<Verifier>,
    /// Connect deadlines and raw token expiries.
    pub deadlines: Arc<Deadlines>,
    /// Revoked token ids.
    pub revoked: Revoked,
    /// The server API's keys (`api.key` and `[[api.keys]]`).
    pub api_keys: KeyRing,
    /// TLS termination, when `[server.tls]` is set.
    pub tls: Option<Tls>,
    /// HTTP connections ended before a request, for `/metrics`.
    pub http_refused: HttpRefused,
    /// Online users (`user_online` / `user_offline` events).
    pub users: Arc<Users>,
    /// Every live node (the `info` method) and the broker's health.
    pub nodes: Nodes,
    /// Server API calls that reach the other nodes' connections.
    pub cluster: Cluster,
    /// Broker errors and reconnects, for `/metrics`.
    pub broker_metrics: BrokerMetrics,
    /// Where events go.
    pub bus: EventBus,
    /// The webhook and Redis stream sinks (status, dead letters, admission).
    pub sinks: Sinks,
    /// Replies kept for users with no connection (`api.reply_hold_size`).
    pub held: Option<crate::held::HeldReplies>,
    /// The backend asked on connect, subscribe, publish and RPC (`[proxy]`).
    pub proxy: Option<crate::proxy::Proxy>,
    /// SSE and HTTP-streaming sessions on this node, by session id.
    pub streams: Arc<crate::stream::StreamSessions>,
    /// Shutdown state.
    pub lifecycle: Lifecycle,
    /// When the server started.
    pub started: Instant,
    /// This process's node id.
    pub node_uid: String,
    /// The address the listener is bound to.
    pub local_addr: SocketAddr,
}

/// HTTP connections the server ended before a request was read.
#[derive(Debug, Default)]
pub struct HttpRefused {
    /// Request head over `server.max_header_bytes` (answered 431).
    pub header_too_large: AtomicU64,
    /// Request head not complete within `server.handshake_timeout`.
    pub header_timeout: AtomicU64,
}

/// The handle routes receive.
pub type AppState = Arc<Shared>;

/// One cancellation tree for the whole server (see `shutdown.rs`).
pub struct Lifecycle {
    draining: AtomicBool,
    /// Cancelled to stop the accept loop and finish HTTP connections gracefully.
    pub stop_accepting: CancellationToken,
    /// Cancelled when the drain deadline passes: open connections end at once.
    pub force_close: CancellationToken,
    /// Every WebSocket session task (hyper does not track upgraded sockets).
    pub sessions: TaskTracker,
    /// Every HTTP connection task.
    pub http: TaskTracker,
}

impl Lifecycle {
    /// A running lifecycle; the tokens are children of `root`.
    pub fn new(root: &CancellationToken) -> Self {
        Self {
            draining: AtomicBool::new(false),
            stop_accepting: root.child_token(),
            force_close: root.child_token(),
            sessions: TaskTracker::new(),
            http: TaskTracker::new(),
        }
    }

    /// Whether shutdown has begun (readiness fails, upgrades get 503).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Marks the start of shutdown.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}

impl Shared {
    /// The endpoint with this path.
    pub fn endpoint(&self, path: &str) -> Option<&Arc<Endpoint>> {
        self.endpoints.iter().find(|e| e.config.path == path)
    }
}
