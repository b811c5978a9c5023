//! `[sinks]`: where events go — stdout, webhooks, Redis streams — and the
//! embedded store that keeps what a sink could not deliver yet.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::path::quote;

/// The event types a sink's `events` filter may name.
pub const EVENT_TYPES: [&str; 7] = [
    "connect",
    "message",
    "disconnect",
    "error",
    "rpc",
    "user_online",
    "user_offline",
];

/// `[sinks]`: where received events go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinksConfig {
    /// `[sinks.stdout]`: one event per line on standard output.
    pub stdout: StdoutSinkConfig,
    /// The embedded store (one file) for events a webhook or stream sink
    /// has not delivered yet and for dead letters. Opened only when such a
    /// sink is configured. Default `switchboard-sinks.redb`.
    pub store_path: PathBuf,
    /// `[[sinks.webhooks]]`: HTTP POST of events.
    pub webhooks: Vec<WebhookConfig>,
    /// `[[sinks.redis_streams]]`: XADD of events to a Redis stream.
    pub redis_streams: Vec<RedisStreamConfig>,
}

impl Default for SinksConfig {
    fn default() -> Self {
        SinksConfig {
            stdout: StdoutSinkConfig::default(),
            store_path: PathBuf::from("switchboard-sinks.redb"),
            webhooks: Vec::new(),
            redis_streams: Vec::new(),
        }
    }
}

/// `[sinks.stdout]`: the standard-output sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdoutSinkConfig {
    /// Write events to standard output. Default true.
    pub enabled: bool,
    /// Events buffered between the endpoints and the writer, so a slow
    /// stdout does not stall connections. Default 10 000. At least 1.
    pub queue_capacity: usize,
}

impl Default for StdoutSinkConfig {
    fn default() -> Self {
        StdoutSinkConfig {
            enabled: true,
            queue_capacity: 10_000,
        }
    }
}

/// What a durable sink holds back and how it retries; shared by webhooks
/// and Redis streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Events sent in one request. Default 1 (one event per request).
    pub batch_size: usize,
    /// How long a partial batch waits for more events. Default 0.
    #[serde(rename = "linger_ms", with = "crate::duration::millis")]
    pub linger: Duration,
    /// Attempts per batch before it goes to the dead letters. Default 8.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time. Default 200 ms.
    #[serde(rename = "backoff_initial_ms", with = "crate::duration::millis")]
    pub backoff_initial: Duration,
    /// Longest wait between retries. Default 30 s.
    #[serde(rename = "backoff_max_ms", with = "crate::duration::millis")]
    pub backoff_max: Duration,
    /// Events held in memory; more are written to the store. Default 10 000.
    pub memory_events: usize,
    /// Backlog (memory and store) above which the sink's endpoints refuse
    /// new connections (1013) and answer messages with `busy`. 0 = never.
    pub busy_backlog: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            batch_size: 1,
            linger: Duration::ZERO,
            max_attempts: 8,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            memory_events: 10_000,
            busy_backlog: 0,
        }
    }
}

/// `[[sinks.webhooks]]`: events POSTed to a URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Unique name, used in metrics and the server API.
    pub name: String,
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// Shared secret for the `X-Switchboard-Signature` header; empty: unsigned.
    pub secret: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Only events of these endpoint paths; empty: all.
    pub endpoints: Vec<String>,
    /// Only these event types; empty: all.
    pub events: Vec<String>,
    /// Per-request timeout. Default 10 s.
    #[serde(rename = "timeout_ms", with = "crate::duration::millis")]
    pub timeout: Duration,
    /// Act on the response body (`reply`, `send`, `publish`, `result`). Default true.
    pub replies: bool,
    /// Batching, retries, backlog.
    pub delivery: Delivery,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            name: String::new(),
            url: String::new(),
            secret: String::new(),
            headers: BTreeMap::new(),
            endpoints: Vec::new(),
            events: Vec::new(),
            timeout: Duration::from_secs(10),
            replies: true,
            delivery: Delivery::default(),
        }
    }
}

/// `[[sinks.redis_streams]]`: events appended to a Redis stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisStreamConfig {
    /// Unique name, used in metrics and the server API.
    pub name: String,
    /// `redis://[user:password@]host:port[/db]` or `rediss://…`.
    pub url: String,
    /// The stream key. Default `switchboard:events`.
    pub stream: String,
    /// Approximate most entries kept (`XADD MAXLEN ~`). 0: no trimming. Default 100 000.
    pub maxlen: u64,
    /// Only events of these endpoint paths; empty: all.
    pub endpoints: Vec<String>,
    /// Only these event types; empty: all.
    pub events: Vec<String>,
    /// Per-command timeout. Default 5 s.
    #[serde(rename = "timeout_ms", with = "crate::duration::millis")]
    pub timeout: Duration,
    /// Batching, retries, backlog.
    pub delivery: Delivery,
}

impl Default for RedisStreamConfig {
    fn default() -> Self {
        RedisStreamConfig {
            name: String::new(),
            url: String::new(),
            stream: "switchboard:events".to_string(),
            maxlen: 100_000,
            endpoints: Vec::new(),
            events: Vec::new(),
            timeout: Duration::from_secs(5),
            delivery: Delivery::default(),
        }
    }
}

type Check = Result<(), ConfigError>;

impl SinksConfig {
    /// True when a sink needs the embedded store.
    pub fn needs_store(&self) -> bool {
        !self.webhooks.is_empty() || !self.redis_streams.is_empty()
    }

    pub(crate) fn validate(&self, endpoint_paths: &[&str]) -> Check {
        if self.stdout.queue_capacity == 0 {
            return Err(ConfigError::new(
                "sinks.stdout.queue_capacity",
                "0",
                "must be at least 1, or no event could ever be queued",
                "set it to 1 or more, e.g. 10000",
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        let webhooks = self.webhooks.iter().enumerate().map(|(i, w)| {
            let at = format!("sinks.webhooks[{i}]");
            (at, &w.name, &w.endpoints, &w.events, &w.delivery)
        });
        let streams = self.redis_streams.iter().enumerate().map(|(i, r)| {
            let at = format!("sinks.redis_streams[{i}]");
            (at, &r.name, &r.endpoints, &r.events, &r.delivery)
        });
        for (at, name, endpoints, events, delivery) in webhooks.chain(streams) {
            check_name(&at, name, &names)?;
            names.push(name);
            check_filter(&at, endpoints, events, endpoint_paths)?;
            check_delivery(&at, delivery)?;
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            check_webhook(&format!("sinks.webhooks[{i}]"), w)?;
        }
        for (i, r) in self.redis_streams.iter().enumerate() {
            check_stream(&format!("sinks.redis_streams[{i}]"), r)?;
        }
        Ok(())
    }
}

fn check_name(at: &str, name: &str, taken: &[&str]) -> Check {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(ConfigError::new(
            format!("{at}.name"),
            quote(name),
            "a sink needs a name of 1 to 64 letters, digits, '-', '_' or '.'; \
             metrics and the server API use it",
            "set name = \"workflow\" (any unique name)",
        ));
    }
    if taken.contains(&name) || name == "stdout" {
        return Err(ConfigError::new(
            format!("{at}.name"),
            quote(name),
            "another sink already has this name",
            "give every sink its own name",
        ));
    }
    Ok(())
}

fn check_filter(at: &str, endpoints: &[String], events: &[String], paths: &[&str]) -> Check {
    for (i, path) in endpoints.iter().enumerate() {
        if !paths.contains(&path.as_str()) {
            return Err(ConfigError::new(
                format!("{at}.endpoints[{i}]"),
                quote(path),
                "no endpoint has this path, so the filter would never match",
                format!("use one of the endpoint paths: {}", paths.join(", ")),
            ));
        }
    }
    for (i, event) in events.iter().enumerate() {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(ConfigError::new(
                format!("{at}.events[{i}]"),
                quote(event),
                "not an event type",
                format!("use some of: {}", EVENT_TYPES.join(", ")),
            ));
        }
    }
    Ok(())
}

fn check_delivery(at: &str, d: &Delivery) -> Check {
    let positive = [
        (
            "batch_size",
            d.batch_size as u64,
            "1 (one event per request)",
        ),
        ("max_attempts", u64::from(d.max_attempts), "8"),
        ("memory_events", d.memory_events as u64, "10000"),
    ];
    for (key, value, example) in positive {
        if value == 0 {
            return Err(ConfigError::new(
                format!("{at}.delivery.{key}"),
                "0",
                "must be at least 1",
                format!("set it to 1 or more, e.g. {example}"),
            ));
        }
    }
    if d.batch_size > 10_000 {
        return Err(ConfigError::new(
            format!("{at}.delivery.batch_size"),
            d.batch_size.to_string(),
            "above 10000 events a request body gets too large for most targets",
            "set it to 10000 or less, e.g. 100",
        ));
    }
    if d.backoff_initial.is_zero() || d.backoff_initial > d.backoff_max {
        return Err(ConfigError::new(
            format!("{at}.delivery.backoff_initial_ms"),
            d.backoff_initial.as_millis().to_string(),
            "must be above 0 and at most backoff_max_ms, or retries would hammer the target",
            "set backoff_initial_ms = 200 and backoff_max_ms = 30000",
        ));
    }
    if d.linger > Duration::from_secs(60) {
        return Err(ConfigError::new(
            format!("{at}.delivery.linger_ms"),
            d.linger.as_millis().to_string(),
            "events would wait more than a minute for a batch to fill",
            "set it to a few milliseconds, e.g. 10",
        ));
    }
    Ok(())
}

fn check_timeout(at: &str, timeout: Duration) -> Check {
    if timeout < Duration::from_millis(10) || timeout > Duration::from_secs(300) {
        return Err(ConfigError::new(
            format!("{at}.timeout_ms"),
            timeout.as_millis().to_string(),
            "must be between 10 ms and 300 000 ms (5 minutes)",
            "set it to e.g. 10000",
        ));
    }
    Ok(())
}

fn check_webhook(at: &str, w: &WebhookConfig) -> Check {
    let scheme_ok = w.url.starts_with("http://") || w.url.starts_with("https://");
    if !scheme_ok || w.url.len() <= "https://".len() || w.url.contains(char::is_whitespace) {
        return Err(ConfigError::new(
            format!("{at}.url"),
            quote(&w.url),
            "a webhook needs an http:// or https:// URL",
            "set url = \"http://127.0.0.1:1880/switchboard\"",
        ));
    }
    for name in w.headers.keys() {
        if http_token(name).is_none() {
            return Err(ConfigError::new(
                format!("{at}.headers"),
                quote(name),
                "not a valid HTTP header name",
                "use letters, digits and '-', e.g. \"X-Source\"",
            ));
        }
    }
    check_timeout(at, w.timeout)
}

fn check_stream(at: &str, r: &RedisStreamConfig) -> Check {
    if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://")) {
        return Err(ConfigError::new(
            format!("{at}.url"),
            quote(&r.url),
            "a Redis stream sink needs a redis:// or rediss:// URL",
            "set url = \"redis://127.0.0.1:6379\"",
        ));
    }
    if r.stream.is_empty() {
        return Err(ConfigError::new(
            format!("{at}.stream"),
            "\"\"",
            "the stream key is empty",
            "set stream = \"switchboard:events\"",
        ));
    }
    check_timeout(at, r.timeout)
}

/// `Some` when `name` is an RFC 9110 token.
fn http_token(name: &str) -> Option<()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    ok.then_some(())
}
