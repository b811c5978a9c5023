use std::net::SocketAddr;
use std::time::Duration;

use super::env;
use crate::*;

#[test]
fn built_in_defaults_match_the_documented_values() {
    let c = Config::default();
    assert_eq!(c.server.bind, "0.0.0.0:8080".parse::<SocketAddr>().unwrap());
    assert!(c.server.trusted_proxies.is_empty());
    assert_eq!(c.server.shutdown_notice, None);
    assert_eq!(c.server.drain_timeout, Duration::from_secs(10));
    assert_eq!(c.api.key, "");
    assert_eq!(c.api.max_body_size, 1024 * 1024);
    assert_eq!(c.endpoints.len(), 1);
    let e = &c.endpoints[0];
    assert_eq!(e.path, "/ws");
    assert_eq!(e.mode, Mode::Raw);
    assert!(e.welcome);
    assert_eq!(
        e,
        &EndpointConfig {
            welcome: true,
            ..EndpointConfig::default()
        }
    );
    assert!(c.sinks.stdout.enabled);
    assert_eq!(c.sinks.stdout.queue_capacity, 10_000);
    assert_eq!(c.log.level, "info");
    assert_eq!(c.log.format, LogFormat::Text);
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn endpoint_defaults_match_the_documented_values() {
    let e = EndpointConfig::default();
    assert_eq!(e.path, "/ws");
    assert_eq!(e.mode, Mode::Raw);
    assert_eq!(e.max_connections, 10_000);
    assert_eq!(e.max_message_size, 1_048_576);
    assert_eq!(e.idle_timeout, None);
    assert_eq!(e.max_lifetime, None);
    assert_eq!(e.heartbeat.mode, HeartbeatMode::None);
    assert_eq!(e.heartbeat.interval, Duration::from_secs(30));
    assert_eq!(e.heartbeat.timeout, Duration::from_secs(10));
    assert!(!e.welcome);
    assert_eq!(e.welcome_message, DEFAULT_WELCOME_MESSAGE);
    assert_eq!(e.compression, Compression::Disabled);
    assert_eq!(
        e.deflate,
        DeflateConfig {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 64
        }
    );
    assert_eq!(e.outbound_queue_bytes, 4 * 1024 * 1024);
    assert_eq!(e.overflow, OverflowPolicy::Close);
    assert_eq!(e.format, EventFormat::Payload);
    assert!(e.allowed_origins.is_empty());
    assert!(e.subprotocols.is_empty());
}

#[test]
fn empty_file_and_no_layers_give_the_defaults() {
    assert_eq!(Config::from_toml_str(""), Ok(Config::default()));
    assert_eq!(
        Config::load(None, env(&[]), &CliOverrides::default()),
        Ok(Config::default())
    );
}

#[test]
fn no_endpoints_in_the_file_means_the_default_ws_endpoint() {
    let c = Config::from_toml_str("[server]\nbind = \"127.0.0.1:1\"\n").unwrap();
    assert_eq!(c.endpoints, Config::default().endpoints);
    assert!(c.endpoints[0].welcome);
}

#[test]
fn an_endpoint_in_a_file_takes_endpoint_defaults_with_welcome_off() {
    let c = Config::from_toml_str("[[endpoints]]\npath = \"/echo\"\nmode = \"echo\"\n").unwrap();
    assert_eq!(
        c.endpoints,
        vec![EndpointConfig {
            path: "/echo".into(),
            mode: Mode::Echo,
            ..EndpointConfig::default()
        }]
    );
}

#[test]
fn durations_are_milliseconds_and_zero_disables() {
    let c = Config::from_toml_str(
        "[server]\ndrain_timeout_ms = 2500\n[[endpoints]]\npath = \"/a\"\nidle_timeout_ms = 1500\nmax_lifetime_ms = 0\n[endpoints.heartbeat]\nmode = \"send\"\ninterval_ms = 20\ntimeout_ms = 15\n",
    )
    .unwrap();
    assert_eq!(c.server.drain_timeout, Duration::from_millis(2500));
    let e = &c.endpoints[0];
    assert_eq!(e.idle_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(e.max_lifetime, None);
    assert_eq!(e.heartbeat.interval, Duration::from_millis(20));
    assert_eq!(e.heartbeat.timeout, Duration::from_millis(15));
}

#[test]
fn trusted_proxies_take_networks_and_plain_addresses() {
    let c = Config::from_toml_str(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n",
    )
    .unwrap();
    let shown: Vec<String> = c
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
}

#[test]
fn every_enum_value_parses() {
    let c = Config::from_toml_str(&super::endpoint(
        "mode = \"echo\"\ncompression = \"dedicated\"\noverflow = \"drop\"\nformat = \"envelope\"\n[endpoints.heartbeat]\nmode = \"expect\"",
    ))
    .unwrap();
    let e = &c.endpoints[0];
    assert_eq!(
        (e.mode, e.compression, e.overflow, e.format),
        (
            Mode::Echo,
            Compression::Dedicated,
            OverflowPolicy::Drop,
            EventFormat::Envelope
        )
    );
    assert_eq!(e.heartbeat.mode, HeartbeatMode::Expect);
    let c =
        Config::from_toml_str("[log]\nformat = \"json\"\nlevel = \"warn,switchboard_hub=trace\"\n")
            .unwrap();
    assert_eq!(c.log.format, LogFormat::Json);
    let c = Config::from_toml_str(&super::endpoint(
        "compression = \"shared\"\n[endpoints.heartbeat]\nmode = \"send\"",
    ))
    .unwrap();
    assert_eq!(c.endpoints[0].compression, Compression::Shared);
}
