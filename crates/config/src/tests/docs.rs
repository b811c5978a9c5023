//! Keeps docs/CONFIG.md honest: its example loads, and every key has a row.

use toml::Value;

use crate::*;

const DOC: &str = include_str!("../../../../docs/CONFIG.md");

#[test]
fn the_full_example_loads() {
    let (_, after) = DOC.split_once("## Full example").unwrap();
    let (_, block) = after.split_once("```toml\n").unwrap();
    let (example, _) = block.split_once("```").unwrap();
    let c = Config::from_toml_str(example).unwrap();
    assert_eq!(c.endpoints.len(), 3);
    assert_eq!(c.endpoints[2].mode, Mode::Channels);
    assert_eq!(c.channels.default, NamespaceOptions::default());
    assert_eq!(
        ChannelsConfig {
            namespaces: Vec::new(),
            ..c.channels.clone()
        },
        ChannelsConfig::default()
    );
    assert_eq!(c.channels.namespaces.len(), 1);
    assert!(c.channels.namespace_options("chat:x").unwrap().recovery);
    assert_eq!(
        c.endpoints[0],
        EndpointConfig {
            welcome: true,
            heartbeat: HeartbeatConfig {
                mode: HeartbeatMode::Send,
                ..HeartbeatConfig::default()
            },
            ..EndpointConfig::default()
        }
    );
}

#[test]
fn every_key_has_a_table_row() {
    let mut config = Config::default();
    config.server.shutdown_notice = Some(String::new());
    // A non-empty list, so the keys inside its tables are checked too.
    config.channels.namespaces.push(Namespace::default());
    config.api.keys.push(ApiKey::default());
    config.server.tls = Some(TlsConfig::default());
    config.endpoints[0].auth.api_keys.push(ClientKey::default());
    config.sinks.webhooks.push(WebhookConfig::default());
    config
        .sinks
        .redis_streams
        .push(RedisStreamConfig::default());
    let tree = Value::try_from(config).unwrap();
    let mut missing = Vec::new();
    collect_missing(&tree, "", &mut missing);
    assert!(missing.is_empty(), "undocumented keys: {missing:?}");
}

fn collect_missing(value: &Value, at: &str, missing: &mut Vec<String>) {
    match value {
        Value::Table(table) => {
            for (key, value) in table {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                collect_missing(value, &path, missing);
            }
        }
        Value::Array(items) if items.iter().all(Value::is_table) && !items.is_empty() => {
            collect_missing(&items[0], at, missing);
        }
        _ => {
            let leaf = at.rsplit('.').next().unwrap_or(at);
            if !DOC.contains(&format!("\n| `{leaf}` |")) {
                missing.push(at.to_string());
            }
        }
    }
}
