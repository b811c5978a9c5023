//! Turns deserializer errors into [`ConfigError`]s with a key, a value and a
//! fix, instead of serde's type-centric messages.

use serde_path_to_error::Segment;
use toml::Value;

use crate::error::{closest, ConfigError};
use crate::path::{self, Seg};

/// Translates a failed deserialization of `tree`.
pub(crate) fn translate(
    err: &serde_path_to_error::Error<toml::de::Error>,
    tree: &Value,
) -> ConfigError {
    let mut segs: Vec<Seg> = err
        .path()
        .iter()
        .filter_map(|seg| match seg {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect();
    let message = err.inner().message();

    if let Some(field) = backticked(message).first().cloned() {
        if message.starts_with("unknown field") {
            // The path stops at the table holding the unknown key.
            if segs.last() != Some(&Seg::Key(field.clone())) {
                segs.push(Seg::Key(field.clone()));
            }
            let known = expected_list(message);
            let fix = match closest(&field, &known) {
                Some(guess) => format!("did you mean `{guess}`? Otherwise remove it"),
                None if known.is_empty() => "remove it".to_string(),
                None => format!("remove it; the keys allowed here are: {}", known.join(", ")),
            };
            return ConfigError::new(
                path::dotted(&segs),
                value_at(tree, &segs),
                format!("unknown key `{field}`"),
                fix,
            );
        }
        if message.starts_with("unknown variant") {
            let allowed = expected_list(message);
            let mut fix = format!("use one of: {}", allowed.join(", "));
            if let Some(guess) = closest(&field, &allowed) {
                fix.push_str(&format!(" (did you mean `{guess}`?)"));
            }
            return ConfigError::new(
                path::dotted(&segs),
                value_at(tree, &segs),
                format!("`{field}` is not an allowed value"),
                fix,
            );
        }
    }

    let fix = hint(&path::generic(&segs))
        .unwrap_or("check the value's type and spelling against docs/CONFIG.md")
        .to_string();
    ConfigError::new(
        path::dotted(&segs),
        value_at(tree, &segs),
        plain_problem(message),
        fix,
    )
}

fn value_at(tree: &Value, segs: &[Seg]) -> String {
    path::lookup(tree, segs).map_or_else(|| "(missing)".to_string(), path::render)
}

/// Every `` `word` `` in a serde message, in order.
fn backticked(message: &str) -> Vec<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The names serde lists after "expected" in unknown field/variant messages.
fn expected_list(message: &str) -> Vec<&str> {
    let Some((_, tail)) = message.split_once("expected") else {
        return Vec::new();
    };
    tail.split('`').skip(1).step_by(2).collect()
}

/// Replaces Rust type names in serde messages with words an operator knows.
fn plain_problem(message: &str) -> String {
    if message.contains("expected string only") {
        // toml's wording when an enum gets a number, boolean or list.
        return "expected one of the quoted words listed in the fix".to_string();
    }
    if let Some((head, _)) = message.split_once("expected struct ") {
        return format!("{head}expected a table");
    }
    const WORDS: [(&str, &str); 6] = [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected a boolean", "expected true or false"),
        ("expected a sequence", "expected a list"),
    ];
    WORDS
        .iter()
        .fold(message.to_string(), |msg, (from, to)| msg.replace(from, to))
}

/// Hints for the keys `[channels.default]` and `[[channels.namespaces]]`
/// share.
fn namespace_hint(key: &str) -> Option<&'static str> {
    let option = key
        .strip_prefix("channels.default.")
        .or_else(|| key.strip_prefix("channels.namespaces."))?;
    Some(match option {
        "history_size" => "write a whole number of publications from 0 to 1000000, e.g. 100",
        "offline_queue_size" => "write a whole number of messages from 0 to 10000, e.g. 100",
        "max_subscribers" => "write a whole number, or 0 for unlimited",
        "history_ttl_ms" | "offline_queue_ttl_ms" => {
            "write a whole number of milliseconds, e.g. 600000, or 0 for off"
        }
        "recovery" | "presence" | "join_leave" | "echo_to_publisher" | "last_value" => {
            "write true or false (no quotes)"
        }
        "allow_publish" | "allow_subscribe" | "allow_history" | "allow_presence" => {
            "write true (anyone), false (nobody), \"authenticated\" or \"token\""
        }
        _ => return None,
    })
}

/// How to write a correct value for a key (array indexes removed).
pub(crate) fn hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "server" | "api" | "sinks" | "sinks.stdout" | "log" | "channels" => {
            "write it as a table, e.g. [server]"
        }
        "channels.default" => "write it as a sub-table, [channels.default]",
        "channels.namespaces" => {
            "write each namespace as a [[channels.namespaces]] table with at least name = \"chat\""
        }
        "endpoints" => "write each endpoint as an [[endpoints]] table with at least path = \"/ws\"",
        "endpoints.heartbeat" | "endpoints.deflate" => {
            "write it as a sub-table, e.g. [endpoints.heartbeat] after its [[endpoints]]"
        }
        "server.bind" => "write IP:PORT in quotes, e.g. \"0.0.0.0:8080\" or \"[::]:8080\"",
        "server.trusted_proxies" => {
            "write a list of addresses or CIDR networks, e.g. [\"10.0.0.0/8\", \"192.0.2.7\"]"
        }
        "server.shutdown_notice" | "api.key" | "endpoints.welcome_message" => {
            "write a quoted string"
        }
        "server.drain_timeout_ms" => "write a whole number of milliseconds, e.g. 10000",
        "api.max_body_size" => "write a whole number of bytes, at least 1, e.g. 1048576",
        "endpoints.path" => "write a quoted path starting with /, e.g. \"/ws\"",
        "endpoints.mode" => "use one of: raw, echo, channels",
        "endpoints.max_connections" => "write a whole number, at least 1, e.g. 10000",
        "endpoints.max_message_size" => {
            "write a whole number of bytes from 125 to 268435456, e.g. 1048576"
        }
        "endpoints.idle_timeout_ms" | "endpoints.max_lifetime_ms" | "endpoints.write_delay_ms" => {
            "write a whole number of milliseconds, or 0 to disable"
        }
        "endpoints.heartbeat.mode" => "use one of: none, send, expect",
        "endpoints.heartbeat.interval_ms" | "endpoints.heartbeat.timeout_ms" => {
            "write a whole number of milliseconds, at least 10"
        }
        "endpoints.welcome" | "sinks.stdout.enabled" => "write true or false (no quotes)",
        "endpoints.compression" => "use one of: disabled, shared, dedicated",
        "endpoints.deflate.server_max_window_bits" | "endpoints.deflate.client_max_window_bits" => {
            "write a whole number from 9 to 15"
        }
        "endpoints.deflate.level" => "write a whole number from 0 (store) to 9 (best)",
        "endpoints.deflate.threshold" => "write a whole number of bytes, e.g. 64",
        "endpoints.outbound_queue_bytes" => "write a whole number of bytes, at least 1024",
        "endpoints.overflow" => "use one of: close, drop",
        "endpoints.format" => "use one of: payload, envelope",
        "endpoints.allowed_origins" => {
            "write a list of origins, e.g. [\"https://example.com\"], or [] for any origin"
        }
        "endpoints.subprotocols" => "write a list of quoted names, e.g. [\"graphql-ws\"]",
        "sinks.stdout.queue_capacity" => "write a whole number of events, at least 1",
        "log.level" => "write a quoted level such as \"info\", or \"info,my_crate=debug\"",
        "log.format" => "use one of: text, json",
        "channels.max_channels_per_connection" => "write a whole number, at least 1, e.g. 128",
        "channels.channel_max_length" => "write a whole number of bytes from 1 to 1024, e.g. 255",
        "channels.ping_interval_ms" => "write a whole number of milliseconds, at least 1000",
        "channels.pong_timeout_ms" => {
            "write a whole number of milliseconds, at least 100 and below ping_interval_ms"
        }
        "channels.user_offline_grace_ms" => {
            "write a whole number of milliseconds, e.g. 5000, or 0 for at once"
        }
        "channels.allow_anonymous" => "write true or false (no quotes)",
        "channels.namespaces.name" => "write a quoted name of A-Za-z0-9_-, e.g. \"chat\"",
        _ => return namespace_hint(key),
    })
}
