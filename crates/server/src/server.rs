//! Building, starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_auth::{KeyRing, Verifier};
use switchboard_config::{ApiScope, Mode};
use switchboard_config::{Config, ConfigError};
use switchboard_hub::{ChannelHub, Hub};
use switchboard_sinks::{EventBus, EventStream, JsonLinesSink};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::revoked::Revoked;
use crate::auth::Deadlines;
use crate::broker_metrics::{BrokerMetrics, CountedBroker, CountedPresence};
use crate::channels::keepalive::KeepAlive;
use crate::channels::namespaces;
use crate::cluster::Cluster;
use crate::endpoint::Endpoint;
use crate::nodes::{self, Nodes};
use crate::state::{AppState, Lifecycle, Shared};
use crate::tls::{self, PeerMap, Tls, TlsError};
use crate::users::Users;
use crate::{brokers, listener, router, shutdown};
use std::sync::atomic::AtomicU64;
use switchboard_broker::Broker;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The broker (`[broker]`) could not be reached.
    #[error("cannot use the broker at {url} (broker.url): {message}; start Redis, or fix broker.url, or set broker.start_degraded = true to start without it, or broker.kind = \"memory\"")]
    Broker {
        /// The URL, password redacted.
        url: String,
        /// What failed.
        message: String,
    },
    /// A token key or JWKS in `[auth.jwt]` cannot be used.
    #[error("cannot use {0}")]
    Auth(#[from] switchboard_auth::SetupError),
    /// The TLS certificate or key (`[server.tls]`) cannot be used.
    #[error("cannot use {0}")]
    Tls(#[from] TlsError),
    /// An endpoint's `message_schema_file` cannot be used.
    #[error(transparent)]
    Schema(#[from] crate::endpoint::SchemaError),
    /// The demo pages (`[demo]`) cannot be served.
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    /// The backend proxy (`[proxy]`) cannot be used.
    #[error("cannot use [proxy]: {0}")]
    Proxy(String),
    /// A webhook or stream sink (`[sinks]`) could not be started.
    #[error(transparent)]
    Sinks(#[from] crate::sinks::SinkSetupError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (server.bind): {source}; {hint}")]
    Bind {
        /// The address from `server.bind`.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
}

/// A server: build with [`Server::builder`], then [`ServerBuilder::start`].
///
/// ```no_run
/// # async fn demo() -> Result<(), switchboard_server::StartError> {
/// use switchboard_server::{Config, Server};
/// let mut config = Config::default();
/// config.server.bind = "127.0.0.1:0".parse().unwrap();
/// let server = Server::builder().config(config).start().await?;
/// println!("listening on {}", server.local_addr());
/// let mut events = server.events(1024);
/// if let Some(event) = events.recv().await {
///     println!("{:?}", event.event);
/// }
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Server;

impl Server {
    /// A builder starting from the embedded defaults.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: Config::default(),
        }
    }
}

/// Configures a server before it starts.
pub struct ServerBuilder {
    config: Config,
}

impl ServerBuilder {
    /// Uses this configuration (validated at start).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Listens on this address (port 0 picks a free one).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.server.bind = addr;
        self
    }

    /// Validates the config, binds the listener and starts serving.
    pub async fn start(self) -> Result<RunningServer, StartError> {
        let config = self.config;
        config.validate()?;
        let verifier = Arc::new(Verifier::from_config(&config)?);
        let mut endpoints = Vec::new();
        for (i, e) in config.endpoints.iter().enumerate() {
            let schema = crate::endpoint::load_schema(i, e)?;
            endpoints.push(Arc::new(Endpoint {
                schema,
                ..Endpoint::new(e.clone())
            }));
        }
        let tls = config.server.tls.as_ref().map(Tls::new).transpose()?;
        let addr = config.server.bind;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind {
            addr,
            hint: match source.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "another process holds this port: stop it, or set server.bind (--bind, SWITCHBOARD_SERVER__BIND) to a free port"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need privileges: set server.bind to a port above 1023"
                }
                _ => "set server.bind (--bind, SWITCHBOARD_SERVER__BIND) to an address of this machine",
            },
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr,
            source,
            hint: "the socket was bound but its address cannot be read",
        })?;

        let bus = EventBus::new();
        if config.sinks.stdout.enabled {
            bus.add_sink(
                "stdout",
                JsonLinesSink::stdout(),
                config.sinks.stdout.queue_capacity,
            );
        }
        let replies = Arc::new(crate::sinks::Replies::default());
        let sinks = crate::sinks::Sinks::start(&config.sinks, &bus, replies.clone())?;
        let proxy = crate::proxy::Proxy::new(&config.proxy).map_err(StartError::Proxy)?;
        if config.demo.enabled {
            crate::demo::check(&config.demo.dir)?;
        }
        let root = CancellationToken::new();
        let backends =
            brokers::connect(&config.broker)
                .await
                .map_err(|err| StartError::Broker {
                    url: config.broker.addresses_redacted(),
                    message: err.to_string(),
                })?;
        let presence_ttl = backends.presence_ttl;
        let nodes = Nodes::new(backends.nodes);
        let errors = Arc::new(AtomicU64::new(0));
        let broker: Arc<dyn Broker> = Arc::new(CountedBroker {
            inner: backends.broker,
            errors: errors.clone(),
        });
        let presence = Arc::new(CountedPresence {
            inner: backends.presence,
            errors: errors.clone(),
        });
        let broker_metrics = BrokerMetrics {
            errors,
            broker: broker.clone(),
        };
        let hub = Hub::new();
        let cluster = Cluster::new(broker.clone());
        let held = crate::held::HeldReplies::new(
            backends.offline.clone(),
            config.api.reply_hold_size,
            config.api.reply_hold_ttl,
        );
        let channels = ChannelHub::new(
            broker,
            presence,
            backends.offline,
            namespaces::resolver(&config.channels),
        );
        let users = Arc::new(Users::new(bus.clone(), config.channels.user_offline_grace));
        let api_keys = api_key_ring(&config);
        let state: AppState = Arc::new(Shared {
            config,
            endpoints,
            hub,
            channels,
            keepalive: Arc::new(KeepAlive::default()),
            verifier,
            deadlines: Arc::new(Deadlines::default()),
            revoked: Revoked::default(),
            api_keys,
            tls,
            http_refused: Default::default(),
            users,
            nodes,
            cluster,
            broker_metrics,
            bus,
            sinks,
            held,
            proxy,
            streams: Arc::new(crate::stream::StreamSessions::default()),
            lifecycle: Lifecycle::new(&root),
            started: Instant::now(),
            node_uid: uuid::Uuid::new_v4().to_string(),
            local_addr,
        });
        replies.attach(&state);
        if let Err(err) = Cluster::join(&state).await {
            // Joined anyway: the broker subscribes again when it reconnects.
            tracing::warn!(error = %err, "cannot join the control bus yet");
        }
        // Announced before accepting, so `/readyz` tells the truth from the start.
        state.nodes.announce(&crate::api::this_node(&state)).await;
        let stop = state.lifecycle.stop_accepting.clone();
        tokio::spawn(nodes::announce_loop(
            state.clone(),
            brokers::NODE_ANNOUNCE_EVERY,
            stop,
        ));
        if let Some(ttl) = presence_ttl {
            let stop = state.lifecycle.stop_accepting.clone();
            tokio::spawn(brokers::refresh_presence(state.channels.clone(), ttl, stop));
        }
        if state
            .endpoints
            .iter()
            .any(|e| e.config.mode == Mode::Channels)
        {
            let ch = &state.config.channels;
            let refresh_window = state.config.auth.refresh_window;
            let stop = state.lifecycle.stop_accepting.clone();
            tokio::spawn(state.keepalive.clone().run(
                state.channels.clone(),
                ch.ping_interval,
                ch.pong_timeout,
                refresh_window,
                stop,
            ));
        }
        let stop = state.lifecycle.stop_accepting.clone();
        tokio::spawn(state.deadlines.clone().run(stop));
        let (verifier, stop) = (
            state.verifier.clone(),
            state.lifecycle.stop_accepting.clone(),
        );
        tokio::spawn(async move { verifier.start(stop).await });
        if state.api_keys.is_empty() {
            tracing::warn!("no server API key is configured (api.key, [[api.keys]]): the API answers loopback callers only");
        }
        let router = router::build(state.clone());
        let accept = if state.tls.is_some() {
            // TLS on the public listener, bridged to a plain one on loopback.
            let internal = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .map_err(|source| StartError::Bind {
                    addr,
                    source,
                    hint: "the internal listener TLS connections are bridged to cannot bind on 127.0.0.1",
                })?;
            let internal_addr = internal.local_addr().map_err(|source| StartError::Bind {
                addr,
                source,
                hint: "the internal listener's address cannot be read",
            })?;
            let peers = PeerMap::default();
            let tls_loop = tls::accept_loop(listener, internal_addr, peers.clone(), state.clone());
            tokio::spawn(tls_loop);
            tokio::spawn(listener::accept_loop(
                internal,
                router,
                state.clone(),
                Some(peers),
            ))
        } else {
            tokio::spawn(listener::accept_loop(listener, router, state.clone(), None))
        };
        tracing::info!(addr = %local_addr, endpoints = ?state.endpoints.iter().map(|e| &e.config.path).collect::<Vec<_>>(), "listening");
        Ok(RunningServer {
            state,
            root,
            accept,
        })
    }
}

/// `api.key` (admin) and every `[[api.keys]]` entry.
fn api_key_ring(config: &Config) -> KeyRing {
    let mut ring = KeyRing::default();
    if !config.api.key.is_empty() {
        ring.add("api.key", &config.api.key, "", ApiScope::Admin);
    }
    for k in &config.api.keys {
        ring.add(&k.name, &k.key, &k.key_sha256, k.scope);
    }
    ring
}

/// A started server. Dropping it without [`RunningServer::shutdown`]
/// cancels every task at once.
pub struct RunningServer {
    state: AppState,
    root: CancellationToken,
    accept: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local_addr
    }

    /// The connection registry, for sending from the embedding program.
    pub fn hub(&self) -> Hub {
        self.state.hub.clone()
    }

    /// Subscribes to every event from now on, through a queue of `capacity`
    /// events (when it is full, events are dropped for this subscriber and counted).
    pub fn events(&self, capacity: usize) -> EventStream {
        self.state.bus.subscribe(capacity)
    }

    /// The effective configuration.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Starts draining without waiting (readiness fails, new upgrades get 503).
    pub fn start_draining(&self) {
        self.state.lifecycle.start_draining();
    }

    /// Reads the TLS certificate and key again (what SIGHUP does). New
    /// connections get the new certificate; on error the old one stays.
    /// Without `[server.tls]` there is nothing to reload.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match &self.state.tls {
            Some(tls) => tls.reload(),
            None => Ok(()),
        }
    }

    /// Ends open connections at once (what a second signal does during a drain).
    pub fn force_close(&self) {
        self.state.lifecycle.force_close.cancel();
    }

    /// Graceful shutdown: see `shutdown::drain`. Returns when every task has ended.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let report = shutdown::drain(&self.state).await;
        let _ = (&mut self.accept).await;
        report
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

/// What a shutdown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections told to close with 1001.
    pub notified: u64,
    /// Whether every connection closed before `server.drain_timeout`.
    pub drained: bool,
    /// How long it took.
    pub took: Duration,
}
