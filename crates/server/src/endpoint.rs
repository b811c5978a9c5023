//! An endpoint at run time: its config turned into transport settings, and
//! its live counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use switchboard_auth::KeyRing;

use crate::limits::{MessageLimiter, PerIp, UserRates};
use switchboard_config::{
    ApiScope, Compression, EndpointConfig, EventFormat, HeartbeatMode, Mode, OverflowPolicy,
};
use switchboard_hub::Format;
use switchboard_transport::handshake::HandshakeSettings;
use switchboard_transport::{
    CompressionMode, ConnectionSettings, DeflateSettings, Heartbeat, OverflowPolicy as QueuePolicy,
    TrafficStats,
};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `max_connections` reached: closed with 1013.
    Capacity,
    /// The server is draining: 503 before the upgrade.
    Draining,
    /// The handshake was invalid (bad headers): 4xx before the upgrade.
    Handshake,
    /// The `Origin` is not allowed: 403 before the upgrade.
    Origin,
    /// The handshake's credential was missing or wrong: 401 before the upgrade.
    Auth,
    /// Too many connections from the client's address: 429 before the upgrade.
    PerIp,
    /// A sink of the endpoint has more than its `busy_backlog`: closed with 1013.
    Busy,
}

/// Live counters of one endpoint.
#[derive(Debug, Default)]
pub struct EndpointCounters {
    /// Open connections (registered, past the capacity check).
    pub active: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Refused for capacity.
    pub rejected_capacity: AtomicU64,
    /// Refused while draining.
    pub rejected_draining: AtomicU64,
    /// Refused during the handshake.
    pub rejected_handshake: AtomicU64,
    /// Refused for their `Origin`.
    pub rejected_origin: AtomicU64,
    /// Refused for a missing or wrong credential in the handshake.
    pub rejected_auth: AtomicU64,
    /// Refused for `connections_per_ip`.
    pub rejected_per_ip: AtomicU64,
    /// Refused because a sink was busy.
    pub rejected_busy: AtomicU64,
    /// Client messages answered `busy` because a sink was busy.
    pub busy_messages: AtomicU64,
    /// Client messages refused by `message_schema_file`.
    pub invalid_messages: AtomicU64,
    /// Client messages refused by the rate limits.
    pub rate_limited: Arc<AtomicU64>,
    /// Channels commands refused: permission (103), subscriptions per
    /// connection (106), channel name (107).
    pub refused_permission: AtomicU64,
    /// See `refused_permission`.
    pub refused_subscription_limit: AtomicU64,
    /// See `refused_permission`.
    pub refused_channel_name: AtomicU64,
    /// Connections closed since start.
    pub closed: AtomicU64,
    // Touched once per closed connection, never on the message path.
    close_codes: Mutex<BTreeMap<u16, u64>>,
}

impl EndpointCounters {
    /// Counts a refusal.
    pub fn reject(&self, reason: RejectReason) {
        let counter = match reason {
            RejectReason::Capacity => &self.rejected_capacity,
            RejectReason::Draining => &self.rejected_draining,
            RejectReason::Handshake => &self.rejected_handshake,
            RejectReason::Origin => &self.rejected_origin,
            RejectReason::Auth => &self.rejected_auth,
            RejectReason::PerIp => &self.rejected_per_ip,
            RejectReason::Busy => &self.rejected_busy,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// All refusals.
    pub fn rejected(&self) -> u64 {
        [
            &self.rejected_capacity,
            &self.rejected_draining,
            &self.rejected_handshake,
            &self.rejected_origin,
            &self.rejected_auth,
            &self.rejected_per_ip,
            &self.rejected_busy,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// Counts a close code.
    pub fn count_close(&self, code: u16) {
        let mut codes = self.close_codes.lock().unwrap_or_else(|p| p.into_inner());
        *codes.entry(code).or_default() += 1;
    }

    /// Close codes seen, with counts.
    pub fn close_codes(&self) -> Vec<(u16, u64)> {
        let codes = self.close_codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.iter().map(|(c, n)| (*c, *n)).collect()
    }
}

/// One configured endpoint, ready to serve.
#[derive(Debug)]
pub struct Endpoint {
    /// Its configuration.
    pub config: EndpointConfig,
    /// `config.path`, shared by its connections' `ConnectionInfo`.
    pub path: Arc<str>,
    /// Limits and timers for each connection.
    pub connection: ConnectionSettings,
    /// What the handshake accepts.
    pub handshake: HandshakeSettings,
    /// Traffic counters shared by its connections.
    pub traffic: Arc<TrafficStats>,
    /// Connection counters.
    pub counters: EndpointCounters,
    /// The keys `auth.mode = "api_key"` accepts.
    pub keys: KeyRing,
    /// Open connections per client address.
    pub per_ip: Arc<PerIp>,
    /// Message rates of its users.
    pub user_rates: Arc<UserRates>,
    /// `message_schema_file`, compiled.
    pub schema: Option<Arc<jsonschema::Validator>>,
}

/// `message_schema_file` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("endpoints[{index}].message_schema_file = {path:?}: {problem}; fix: point it at a JSON Schema file (draft 2020-12, 2019-09, 7, 6 or 4)")]
pub struct SchemaError {
    index: usize,
    path: String,
    problem: String,
}

/// Reads and compiles endpoint `index`'s message schema, if it has one.
pub fn load_schema(
    index: usize,
    config: &EndpointConfig,
) -> Result<Option<Arc<jsonschema::Validator>>, SchemaError> {
    let path = &config.message_schema_file;
    if path.is_empty() {
        return Ok(None);
    }
    let fail = |problem: String| SchemaError {
        index,
        path: path.clone(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let schema: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let validator =
        jsonschema::validator_for(&schema).map_err(|e| fail(format!("not a valid schema: {e}")))?;
    Ok(Some(Arc::new(validator)))
}

/// Why a message does not satisfy the schema: the JSON pointer of the
/// failing part and what is wrong there.
pub fn schema_violation(
    schema: &jsonschema::Validator,
    message: &serde_json::Value,
) -> Option<(String, String)> {
    let error = schema.validate(message).err()?;
    Some((error.instance_path().to_string(), error.to_string()))
}

impl Endpoint {
    /// Builds the runtime form of a validated endpoint config.
    pub fn new(config: EndpointConfig) -> Self {
        let hb = &config.heartbeat;
        let heartbeat = match hb.mode {
            HeartbeatMode::None => Heartbeat::None,
            HeartbeatMode::Send => Heartbeat::Send {
                interval: hb.interval,
                timeout: hb.timeout,
            },
            HeartbeatMode::Expect => Heartbeat::Expect {
                interval: hb.interval,
                timeout: hb.timeout,
            },
        };
        let connection = ConnectionSettings {
            max_message_size: config.max_message_size,
            heartbeat,
            idle_timeout: config.idle_timeout,
            max_lifetime: config.max_lifetime,
            write_delay: config.write_delay,
            ..ConnectionSettings::default()
        };
        let mode = match config.compression {
            Compression::Disabled => CompressionMode::Disabled,
            Compression::Shared => CompressionMode::Shared,
            Compression::Dedicated => CompressionMode::Dedicated,
        };
        let handshake = HandshakeSettings {
            allowed_origins: config.allowed_origins.clone(),
            subprotocols: config.subprotocols.clone(),
            deflate: DeflateSettings {
                mode,
                server_max_window_bits: config.deflate.server_max_window_bits,
                client_max_window_bits: config.deflate.client_max_window_bits,
                level: config.deflate.level,
                threshold: config.deflate.threshold,
            },
        };
        let mut keys = KeyRing::default();
        for k in &config.auth.api_keys {
            keys.add(&k.name, &k.key, &k.key_sha256, ApiScope::Admin);
        }
        Self {
            path: config.path.as_str().into(),
            config,
            connection,
            handshake,
            traffic: Arc::new(TrafficStats::default()),
            counters: EndpointCounters::default(),
            keys,
            per_ip: Arc::default(),
            user_rates: Arc::default(),
            schema: None,
        }
    }

    /// The queue policy for its connections.
    pub fn queue_policy(&self) -> QueuePolicy {
        match self.config.overflow {
            OverflowPolicy::Close => QueuePolicy::Close,
            OverflowPolicy::Drop => QueuePolicy::Drop,
        }
    }

    /// How server-sent data is framed for its connections.
    pub fn format(&self) -> Format {
        if self.config.mode == Mode::Channels {
            return Format::ChannelsPush;
        }
        match self.config.format {
            EventFormat::Payload => Format::Plain,
            EventFormat::Envelope => Format::Envelope,
        }
    }

    /// Whether the endpoint also takes SSE or HTTP-streaming clients.
    pub fn has_streams(&self) -> bool {
        !self.config.sse_path.is_empty() || !self.config.http_stream_path.is_empty()
    }

    /// `raw`, `echo` or `channels`.
    pub fn mode_name(&self) -> &'static str {
        match self.config.mode {
            Mode::Raw => "raw",
            Mode::Echo => "echo",
            Mode::Channels => "channels",
        }
    }

    /// Reserves a connection slot; `false` when the endpoint is full.
    pub fn try_reserve(&self) -> bool {
        let max = self.config.max_connections as u64;
        let before = self.counters.active.fetch_add(1, Ordering::AcqRel);
        if before >= max {
            self.counters.active.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// A message limiter for one connection, if the endpoint limits rates.
    pub fn message_limiter(&self) -> Option<MessageLimiter> {
        MessageLimiter::new(
            &self.config.limits,
            self.user_rates.clone(),
            self.counters.rate_limited.clone(),
        )
    }

    /// Gives a reserved slot back.
    pub fn release(&self) {
        self.counters.active.fetch_sub(1, Ordering::AcqRel);
    }
}
