//! Checks that cannot be expressed in types: ranges, formats and rules
//! between keys. Each failure names the key, the value and the fix.

use std::collections::HashMap;
use std::time::Duration;

use crate::broker::BrokerConfig;
use crate::channels::{ChannelsConfig, NamespaceOptions};
use crate::error::{closest, ConfigError};
use crate::load::REDACTED;
use crate::model::{Config, EndpointConfig, HeartbeatMode, Mode};
use crate::path::quote;
use crate::welcome::{placeholders, WELCOME_PLACEHOLDERS};

/// A message must at least fit a control frame's payload (125 bytes), or
/// close reasons and pings could not be echoed.
const MIN_MESSAGE_SIZE: usize = 125;
/// A message is held in memory whole, so one client must not be allowed to
/// make the server buffer more than this.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;
/// Below this, per-connection queues thrash on ordinary messages.
const MIN_OUTBOUND_QUEUE_BYTES: usize = 1024;
/// Heartbeat timers shorter than this would spin rather than detect
/// anything.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
/// zlib cannot make an 8-bit raw deflate window, though RFC 7692 allows it.
const WINDOW_BITS: std::ops::RangeInclusive<u8> = 9..=15;
/// zlib's levels.
const DEFLATE_LEVELS: std::ops::RangeInclusive<u32> = 0..=9;
/// Routes the server itself serves on every listener.
const RESERVED_PATHS: [&str; 4] = ["/api", "/healthz", "/readyz", "/metrics"];
/// Log levels, as tracing's `EnvFilter` spells them.
const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
/// Channel names are map keys and travel in every publication; longer
/// names only cost memory and bandwidth.
const CHANNEL_MAX_LENGTH: std::ops::RangeInclusive<usize> = 1..=1024;
/// Pings more often than this are a noticeable part of the traffic of a
/// quiet connection.
const MIN_PING_INTERVAL: Duration = Duration::from_secs(1);
/// Below this, ordinary network jitter would disconnect healthy clients.
const MIN_PONG_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest namespace name: it is repeated in every channel name.
const MAX_NAMESPACE_NAME: usize = 64;
/// History is held in memory, per channel.
const MAX_HISTORY_SIZE: usize = 1_000_000;
/// Offline queues are held in memory, per user.
const MAX_OFFLINE_QUEUE_SIZE: usize = 10_000;

type Check = Result<(), ConfigError>;

impl Config {
    /// Checks every rule that the types alone do not enforce. [`Config::load`]
    /// and [`Config::from_toml_str`] call it; call it yourself after building
    /// a `Config` by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_api()?;
        if self.endpoints.is_empty() {
            return Err(ConfigError::new(
                "endpoints",
                "[]",
                "at least one endpoint is needed, or the server would accept no WebSocket clients",
                "add an [[endpoints]] table with path = \"/ws\", or remove `endpoints = []` \
                 to get the default /ws endpoint",
            ));
        }
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            validate_endpoint(i, endpoint)?;
        }
        self.validate_routes()?;
        let paths: Vec<&str> = self.endpoints.iter().map(|e| e.path.as_str()).collect();
        self.sinks.validate(&paths)?;
        check_log_level(&self.log.level)?;
        validate_channels(&self.channels)?;
        self.validate_auth()?;
        self.validate_proxy()?;
        validate_broker(&self.broker)
    }

    fn validate_api(&self) -> Check {
        let key = &self.api.key;
        if key == REDACTED {
            return Err(ConfigError::new(
                "api.key",
                quote(key),
                "this is the placeholder check-config prints instead of the real key",
                "put the real key back, or set it with SWITCHBOARD_API__KEY",
            ));
        }
        // It travels in an HTTP header, where spaces and control characters
        // are either invalid or stripped, making the key unmatchable.
        if !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ConfigError::new(
                "api.key",
                "(hidden)",
                "contains a space, control or non-ASCII character, which cannot be sent \
                 reliably in the X-API-Key header",
                "use printable ASCII only, e.g. a hex or base64 string",
            ));
        }
        if self.api.reply_hold_size > MAX_OFFLINE_QUEUE_SIZE {
            return Err(ConfigError::new(
                "api.reply_hold_size",
                self.api.reply_hold_size.to_string(),
                format!("at most {MAX_OFFLINE_QUEUE_SIZE} replies are kept per user"),
                "set it to 10000 or less, e.g. 100",
            ));
        }
        if self.api.reply_hold_size > 0 && self.api.reply_hold_ttl.is_zero() {
            return Err(ConfigError::new(
                "api.reply_hold_ttl_ms",
                "0",
                "kept replies would never expire, so a user who never returns would hold them forever",
                "set it above 0, e.g. 3600000, or api.reply_hold_size = 0",
            ));
        }
        if self.api.max_body_size == 0 {
            return Err(ConfigError::new(
                "api.max_body_size",
                "0",
                "must be at least 1 byte, or every request with a body would be refused",
                "set it to 1 or more, e.g. 1048576",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Every path the server routes leads to one thing: endpoint paths,
    /// their SSE and HTTP-streaming paths, the emulation path (when a
    /// fallback transport is on) and `/demo` (when the demo is on).
    fn validate_routes(&self) -> Check {
        let mut routes: Vec<(String, &str)> = Vec::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            routes.push((format!("endpoints[{i}].path"), &e.path));
            if !e.sse_path.is_empty() {
                routes.push((format!("endpoints[{i}].sse_path"), &e.sse_path));
            }
            if !e.http_stream_path.is_empty() {
                routes.push((
                    format!("endpoints[{i}].http_stream_path"),
                    &e.http_stream_path,
                ));
            }
        }
        if self.has_fallback_transports() {
            routes.push(("server.emulation_path".into(), &self.server.emulation_path));
        }
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (key, path) in &routes {
            check_path(key, path)?;
            if self.demo.enabled && (*path == "/demo" || path.starts_with("/demo/")) {
                return Err(ConfigError::new(
                    key,
                    quote(path),
                    "is under /demo, which the demo pages use ([demo] enabled = true)",
                    "choose another path, or turn the demo off",
                ));
            }
            if let Some(first) = seen.insert(path, key) {
                return Err(ConfigError::new(
                    key,
                    quote(path),
                    format!(
                        "{first} already uses this path, and a path can lead to only one thing"
                    ),
                    "give each its own path",
                ));
            }
        }
        Ok(())
    }

    /// Whether any endpoint accepts SSE or HTTP-streaming clients.
    pub fn has_fallback_transports(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| !e.sse_path.is_empty() || !e.http_stream_path.is_empty())
    }
}

fn validate_endpoint(i: usize, e: &EndpointConfig) -> Check {
    let key = |name: &str| format!("endpoints[{i}].{name}");
    check_path(&key("path"), &e.path)?;
    if !e.http_stream_path.is_empty() && e.mode != Mode::Channels {
        return Err(ConfigError::new(
            key("http_stream_path"),
            quote(&e.http_stream_path),
            "HTTP streaming frames messages by newlines, which only the channels protocol's \
             JSON lines can use",
            "remove it, or use sse_path, which raw and echo endpoints can offer",
        ));
    }
    if e.max_connections == 0 {
        return Err(ConfigError::new(
            key("max_connections"),
            "0",
            "must be at least 1, or the endpoint would refuse every client",
            "set it to 1 or more, e.g. 10000",
        ));
    }
    if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&e.max_message_size) {
        return Err(ConfigError::new(
            key("max_message_size"),
            e.max_message_size.to_string(),
            format!(
                "must be from {MIN_MESSAGE_SIZE} (the largest control frame) to {MAX_MESSAGE_SIZE} \
                 (256 MiB; messages are held in memory whole)"
            ),
            "use a size in that range, e.g. 1048576",
        ));
    }
    if e.write_delay.is_some_and(|d| d > Duration::from_secs(1)) {
        return Err(ConfigError::new(
            key("write_delay_ms"),
            e.write_delay.map_or(0, |d| d.as_millis()).to_string(),
            "holds messages for more than a second, which no client expects of a real-time server",
            "use 0 (off) or a few milliseconds, e.g. 5",
        ));
    }
    for (name, value) in [
        ("idle_timeout_ms", e.idle_timeout),
        ("max_lifetime_ms", e.max_lifetime),
        ("write_delay_ms", e.write_delay),
    ] {
        // Only a hand-built Config can hold this: from TOML, 0 becomes None.
        if value.is_some_and(|d| d.as_millis() == 0) {
            return Err(ConfigError::new(
                key(name),
                "0",
                "a duration under 1 ms is not a usable timeout",
                "use None to disable it, or at least 1 ms",
            ));
        }
    }
    check_heartbeat(i, e)?;
    check_welcome(&key("welcome_message"), &e.welcome_message)?;
    if e.welcome && e.mode == Mode::Channels {
        return Err(ConfigError::new(
            key("welcome"),
            "true",
            "a channels endpoint speaks the Centrifugo protocol, where a welcome frame would be a protocol error",
            "set welcome = false on this endpoint",
        ));
    }
    for (name, bits) in [
        (
            "deflate.server_max_window_bits",
            e.deflate.server_max_window_bits,
        ),
        (
            "deflate.client_max_window_bits",
            e.deflate.client_max_window_bits,
        ),
    ] {
        if !WINDOW_BITS.contains(&bits) {
            return Err(ConfigError::new(
                key(name),
                bits.to_string(),
                "must be from 9 to 15: windows are 2^bits bytes, and zlib cannot make an 8-bit window",
                "use 15 for the best ratio, or less to save memory per connection",
            ));
        }
    }
    if !DEFLATE_LEVELS.contains(&e.deflate.level) {
        return Err(ConfigError::new(
            key("deflate.level"),
            e.deflate.level.to_string(),
            "zlib levels run from 0 (store only) to 9 (smallest, slowest)",
            "use 1 for speed (the default) or up to 9",
        ));
    }
    if e.outbound_queue_bytes < MIN_OUTBOUND_QUEUE_BYTES {
        return Err(ConfigError::new(
            key("outbound_queue_bytes"),
            e.outbound_queue_bytes.to_string(),
            "must be at least 1024 bytes, or ordinary messages would overflow the queue at once",
            "set it to 1024 or more, e.g. 4194304",
        ));
    }
    for (j, origin) in e.allowed_origins.iter().enumerate() {
        check_origin(origin).map_err(|(problem, fix)| {
            ConfigError::new(
                format!("endpoints[{i}].allowed_origins[{j}]"),
                quote(origin),
                problem,
                fix,
            )
        })?;
    }
    for (j, protocol) in e.subprotocols.iter().enumerate() {
        if protocol.is_empty() || !protocol.chars().all(is_token_char) {
            return Err(ConfigError::new(
                format!("endpoints[{i}].subprotocols[{j}]"),
                quote(protocol),
                "is not an HTTP token, so it cannot appear in Sec-WebSocket-Protocol",
                "use letters, digits and !#$%&'*+-.^_`|~ only, e.g. \"graphql-ws\"",
            ));
        }
    }
    Ok(())
}

fn validate_broker(b: &BrokerConfig) -> Check {
    // The rules live beside the section (crate::broker), so this file does
    // not grow with every Redis option.
    b.validate()
}

fn validate_channels(c: &ChannelsConfig) -> Check {
    crate::auth::check_hmac_secret(
        "channels.token_hmac_secret",
        &c.token_hmac_secret,
        "SWITCHBOARD_CHANNELS__TOKEN_HMAC_SECRET",
    )?;
    if c.max_channels_per_connection == 0 {
        return Err(ConfigError::new(
            "channels.max_channels_per_connection",
            "0",
            "must be at least 1, or every subscribe would fail with 106 (limit exceeded)",
            "set it to 1 or more, e.g. 128",
        ));
    }
    if !CHANNEL_MAX_LENGTH.contains(&c.channel_max_length) {
        return Err(ConfigError::new(
            "channels.channel_max_length",
            c.channel_max_length.to_string(),
            "must be from 1 to 1024: a channel name is kept as a map key and sent in every \
             publication",
            "use a length in that range, e.g. 255",
        ));
    }
    if c.history_max_limit == 0 {
        return Err(ConfigError::new(
            "channels.history_max_limit",
            "0",
            "must be at least 1, or a client history call could return nothing",
            "set it to 1 or more, e.g. 300",
        ));
    }
    if c.ping_interval < MIN_PING_INTERVAL {
        return Err(ConfigError::new(
            "channels.ping_interval_ms",
            millis(c.ping_interval),
            "must be at least 1000 ms; more frequent pings only add traffic",
            "set it to 1000 or more, e.g. 25000",
        ));
    }
    if c.pong_timeout < MIN_PONG_TIMEOUT {
        return Err(ConfigError::new(
            "channels.pong_timeout_ms",
            millis(c.pong_timeout),
            "must be at least 100 ms, or ordinary network delay would disconnect healthy \
             clients with 3012 (no pong)",
            "set it to 100 or more, e.g. 8000",
        ));
    }
    if c.pong_timeout >= c.ping_interval {
        return Err(ConfigError::new(
            "channels.pong_timeout_ms",
            millis(c.pong_timeout),
            format!(
                "must be less than ping_interval_ms ({}): the next ping is sent before the \
                 previous one's pong deadline, so a late pong could not be told from a lost one",
                millis(c.ping_interval)
            ),
            "lower pong_timeout_ms or raise ping_interval_ms, e.g. ping_interval_ms = 25000 \
             and pong_timeout_ms = 8000",
        ));
    }
    check_namespace_options("channels.default", &c.default)?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, ns) in c.namespaces.iter().enumerate() {
        let at = format!("channels.namespaces[{i}]");
        check_namespace_name(&format!("{at}.name"), &ns.name, c.channel_max_length)?;
        if let Some(first) = seen.insert(ns.name.as_str(), i) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                quote(&ns.name),
                format!(
                    "channels.namespaces[{first}] already has this name, and a channel prefix \
                     can lead to only one namespace"
                ),
                "give each namespace its own name, or merge the two tables",
            ));
        }
        check_namespace_options(&at, &ns.options)?;
    }
    Ok(())
}

fn check_namespace_name(key: &str, name: &str, channel_max_length: usize) -> Check {
    let err = |problem: String, fix: &str| ConfigError::new(key, quote(name), problem, fix);
    if name.is_empty() {
        return Err(err(
            "is empty; a namespace is selected by the prefix before `:` in a channel name".into(),
            "name it, e.g. name = \"chat\" for channels like chat:room1",
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        let why = if bad == ':' {
            "`:` ends the namespace part of a channel name, so it cannot be inside it".to_string()
        } else {
            format!("contains `{bad}`; namespace names use only A-Z a-z 0-9 _ -")
        };
        return Err(err(why, "use only letters, digits, _ and -, e.g. \"chat\""));
    }
    let length = name.chars().count();
    if length > MAX_NAMESPACE_NAME {
        return Err(err(
            format!("is {length} characters long; at most 64 are allowed, since the name is repeated in every channel name"),
            "use a shorter name",
        ));
    }
    // The name, `:` and at least one character must fit.
    if length + 2 > channel_max_length {
        return Err(err(
            format!(
                "is too long for channel_max_length ({channel_max_length}): with `:` and at \
                 least one more character, no channel of this namespace would fit"
            ),
            "use a shorter name or raise channels.channel_max_length",
        ));
    }
    Ok(())
}

fn check_namespace_options(at: &str, o: &NamespaceOptions) -> Check {
    let key = |name: &str| format!("{at}.{name}");
    if o.history_size > MAX_HISTORY_SIZE {
        return Err(ConfigError::new(
            key("history_size"),
            o.history_size.to_string(),
            "must be at most 1000000: history is held in memory for every channel",
            "use a smaller size, e.g. 1000",
        ));
    }
    if o.history_size > 0 && o.history_ttl.is_zero() {
        return Err(ConfigError::new(
            key("history_ttl_ms"),
            "0",
            format!(
                "must be above 0 when history_size is set ({}): history needs a bound in time \
                 as well as in size, or every channel that was ever published to would keep \
                 its publications in memory forever",
                o.history_size
            ),
            "set history_ttl_ms, e.g. 600000 (10 minutes), or set history_size = 0 for no history",
        ));
    }
    if o.history_size == 0 && !o.history_ttl.is_zero() {
        return Err(ConfigError::new(
            key("history_ttl_ms"),
            millis(o.history_ttl),
            "is set but history_size is 0, so no history is kept and nothing would expire: \
             history needs both a size and a time bound",
            "set history_size too, e.g. 100, or set history_ttl_ms = 0 for no history",
        ));
    }
    for (name, on) in [("recovery", o.recovery), ("last_value", o.last_value)] {
        if on && o.history_size == 0 {
            let what = if name == "recovery" {
                "recovery replays missed publications from the history"
            } else {
                "last_value delivers the newest publication, which is kept in the history"
            };
            return Err(ConfigError::new(
                key(name),
                "true",
                format!("needs history, but history_size is 0: {what}"),
                format!(
                    "set history_size (at least 1) and history_ttl_ms in this table, \
                     or set {name} = false"
                ),
            ));
        }
    }
    if o.offline_queue_size > MAX_OFFLINE_QUEUE_SIZE {
        return Err(ConfigError::new(
            key("offline_queue_size"),
            o.offline_queue_size.to_string(),
            "must be at most 10000: queued publications are held in memory for every offline user",
            "use a smaller size, e.g. 100",
        ));
    }
    if o.offline_queue_size > 0 && o.offline_queue_ttl.is_zero() {
        return Err(ConfigError::new(
            key("offline_queue_ttl_ms"),
            "0",
            format!(
                "must be above 0 when offline_queue_size is set ({}): otherwise the queue of a \
                 user who never comes back would be kept forever",
                o.offline_queue_size
            ),
            "set offline_queue_ttl_ms, e.g. 86400000 (one day), or set offline_queue_size = 0 \
             to turn the queue off",
        ));
    }
    if o.offline_queue_size == 0 && !o.offline_queue_ttl.is_zero() {
        return Err(ConfigError::new(
            key("offline_queue_ttl_ms"),
            millis(o.offline_queue_ttl),
            "is set but offline_queue_size is 0, so the offline queue is off and nothing \
             would expire",
            "set offline_queue_size too, e.g. 100, or set offline_queue_ttl_ms = 0",
        ));
    }
    Ok(())
}

/// A duration as written in TOML: whole milliseconds.
fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

fn check_path(key: &str, path: &str) -> Check {
    let err = |problem: &str, fix: &str| ConfigError::new(key, quote(path), problem, fix);
    if !path.starts_with('/') {
        return Err(err(
            "must start with /",
            "write it as an absolute path, e.g. \"/ws\"",
        ));
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/".contains(*c)))
    {
        return Err(err(
            &format!("contains `{bad}`, which is not safe in a URL path without escaping"),
            "use only letters, digits and - . _ ~ /",
        ));
    }
    if RESERVED_PATHS.contains(&path) || path.starts_with("/api/") {
        return Err(err(
            "is reserved: the server serves /api (and everything under /api/), /healthz, \
             /readyz and /metrics itself",
            "choose another path, e.g. \"/ws\"",
        ));
    }
    Ok(())
}

fn check_heartbeat(i: usize, e: &EndpointConfig) -> Check {
    let hb = &e.heartbeat;
    if hb.mode == HeartbeatMode::None {
        return Ok(());
    }
    for (name, value) in [("interval_ms", hb.interval), ("timeout_ms", hb.timeout)] {
        if value < MIN_HEARTBEAT {
            return Err(ConfigError::new(
                format!("endpoints[{i}].heartbeat.{name}"),
                value.as_millis().to_string(),
                "must be at least 10 ms when heartbeat is on; shorter timers only burn CPU",
                "set it to 10 or more, e.g. 30000 for interval_ms and 10000 for timeout_ms",
            ));
        }
    }
    if hb.mode == HeartbeatMode::Send && hb.timeout >= hb.interval {
        return Err(ConfigError::new(
            format!("endpoints[{i}].heartbeat.timeout_ms"),
            hb.timeout.as_millis().to_string(),
            format!(
                "must be less than interval_ms ({}) in send mode: the next ping is sent before \
                 the previous one's pong deadline, so a late pong could not be told from a lost one",
                hb.interval.as_millis()
            ),
            "lower timeout_ms or raise interval_ms, e.g. interval_ms = 30000 and timeout_ms = 10000",
        ));
    }
    Ok(())
}

fn check_welcome(key: &str, template: &str) -> Check {
    for name in placeholders(template) {
        if !WELCOME_PLACEHOLDERS.contains(&name) {
            let mut fix = format!("use only {{{}}}", WELCOME_PLACEHOLDERS.join("}, {"));
            if let Some(guess) = closest(name, &WELCOME_PLACEHOLDERS) {
                fix.push_str(&format!(" (did you mean {{{guess}}}?)"));
            }
            return Err(ConfigError::new(
                key,
                quote(template),
                format!("unknown placeholder {{{name}}}; it would be sent to clients as written"),
                fix,
            ));
        }
    }
    Ok(())
}

/// `*`, or `scheme://host[:port]` as browsers send it in the `Origin`
/// header. Anything else (a trailing slash, a path) would never match.
fn check_origin(origin: &str) -> Result<(), (String, String)> {
    if origin == "*" {
        return Ok(());
    }
    let shape = || {
        (
            "is not an origin: expected `*` or scheme://host[:port] with no path".to_string(),
            "write it like \"https://example.com\" or \"http://localhost:3000\"".to_string(),
        )
    };
    // Browsers send lower case and the server compares ignoring case, so
    // case is not checked; the shape is.
    let lower = origin.to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://").ok_or_else(shape)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if !scheme_ok || authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(shape());
    }
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, rest) = v6.split_once(']').ok_or_else(shape)?;
            let port = match rest {
                "" => None,
                rest => Some(rest.strip_prefix(':').ok_or_else(shape)?),
            };
            (addr.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            (host_ok, port)
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(shape())
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Accepts `level` or a comma list of `level` and `target=level`, the
/// subset of `EnvFilter` syntax operators use; a typo such as `inf` would
/// otherwise be read by `EnvFilter` as a target name and log nothing useful.
fn check_log_level(filter: &str) -> Check {
    let err =
        |problem: String, fix: String| ConfigError::new("log.level", quote(filter), problem, fix);
    let levels = LOG_LEVELS.join(", ");
    if filter.trim().is_empty() {
        return Err(err("is empty".into(), format!("use one of: {levels}")));
    }
    for directive in filter.split(',').map(str::trim) {
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (Some(target.trim()), level.trim()),
            None => (None, directive),
        };
        if let Some(target) = target {
            let target_ok = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_:-.".contains(c));
            if !target_ok {
                return Err(err(
                    format!("`{directive}` does not name a target (a module path such as switchboard_hub)"),
                    "write directives as target=level, e.g. \"info,switchboard_hub=debug\"".into(),
                ));
            }
        }
        if !LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let mut fix = format!("use one of: {levels}");
            if let Some(guess) = closest(&level.to_ascii_lowercase(), &LOG_LEVELS) {
                fix.push_str(&format!(" (did you mean `{guess}`?)"));
            }
            return Err(err(format!("`{level}` is not a log level"), fix));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "*",
            "https://example.com",
            "http://localhost:3000",
            "http://[::1]:8080",
            "http://10.0.0.1",
        ] {
            assert_eq!(check_origin(ok), Ok(()), "{ok}");
        }
        for bad in [
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "https://",
            "https://example.com:0",
            "https://example.com:99999",
            "https://user@example.com",
            "null",
            "https://[nope]",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "WARN",
            "off",
            "info,switchboard_hub=debug",
            "warn, hyper::proto=error",
        ] {
            assert!(check_log_level(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "inf",
            "verbose",
            "info,",
            "=debug",
            "hyper=loud",
            "a b=info",
        ] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
        let e = check_log_level("inf").unwrap_err();
        assert!(e.fix.contains("info"), "{e}");
    }

    #[test]
    fn paths() {
        for ok in ["/ws", "/", "/a/b-c_d.e~f", "/apix", "/api-v2"] {
            assert!(check_path("k", ok).is_ok(), "{ok}");
        }
        for bad in [
            "ws", "", "/a b", "/a?x", "/api", "/api/x", "/healthz", "/readyz", "/metrics", "/é",
        ] {
            assert!(check_path("k", bad).is_err(), "{bad}");
        }
    }
}
