use std::time::Duration;

use super::{endpoint, toml_err};
use crate::*;

/// Asserts the error is at `key` with `value`, and returns it.
#[track_caller]
fn at(toml: &str, key: &str, value: &str) -> ConfigError {
    let e = toml_err(toml);
    assert_eq!((e.key.as_str(), e.value.as_str()), (key, value), "{e}");
    assert!(!e.problem.is_empty() && !e.fix.is_empty(), "{e}");
    e
}

#[test]
fn out_of_range_numbers() {
    at(
        &endpoint("max_connections = 0"),
        "endpoints[0].max_connections",
        "0",
    );
    at(
        &endpoint("max_message_size = 124"),
        "endpoints[0].max_message_size",
        "124",
    );
    at(
        &endpoint("max_message_size = 268435457"),
        "endpoints[0].max_message_size",
        "268435457",
    );
    assert!(Config::from_toml_str(&endpoint("max_message_size = 125")).is_ok());
    assert!(Config::from_toml_str(&endpoint("max_message_size = 268435456")).is_ok());
    at(
        &endpoint("outbound_queue_bytes = 1023"),
        "endpoints[0].outbound_queue_bytes",
        "1023",
    );
    at(
        &endpoint("[endpoints.deflate]\nlevel = 10"),
        "endpoints[0].deflate.level",
        "10",
    );
    at(
        "[sinks.stdout]\nqueue_capacity = 0\n",
        "sinks.stdout.queue_capacity",
        "0",
    );
    at("[api]\nmax_body_size = 0\n", "api.max_body_size", "0");
}

#[test]
fn window_bits_must_be_9_to_15() {
    at(
        &endpoint("[endpoints.deflate]\nserver_max_window_bits = 8"),
        "endpoints[0].deflate.server_max_window_bits",
        "8",
    );
    let e = at(
        &endpoint("[endpoints.deflate]\nclient_max_window_bits = 16"),
        "endpoints[0].deflate.client_max_window_bits",
        "16",
    );
    assert!(e.problem.contains("9 to 15"), "{e}");
    assert!(Config::from_toml_str(&endpoint(
        "[endpoints.deflate]\nserver_max_window_bits = 9\nclient_max_window_bits = 15"
    ))
    .is_ok());
}

#[test]
fn invalid_endpoint_paths() {
    let e = at(
        &endpoint("").replace("\"/a\"", "\"ws\""),
        "endpoints[0].path",
        "\"ws\"",
    );
    assert!(e.problem.contains("start with /"), "{e}");
    let e = at(
        &endpoint("").replace("\"/a\"", "\"/a b\""),
        "endpoints[0].path",
        "\"/a b\"",
    );
    assert!(e.problem.contains("` `"), "{e}");
    at(
        &endpoint("").replace("\"/a\"", "\"/a?x=1\""),
        "endpoints[0].path",
        "\"/a?x=1\"",
    );
}

#[test]
fn reserved_paths() {
    for path in [
        "/api",
        "/api/",
        "/api/publish",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        let e = at(
            &format!("[[endpoints]]\npath = \"{path}\"\n"),
            "endpoints[0].path",
            &format!("\"{path}\""),
        );
        assert!(e.problem.contains("reserved"), "{e}");
    }
    assert!(Config::from_toml_str("[[endpoints]]\npath = \"/apis\"\n").is_ok());
}

#[test]
fn duplicate_paths() {
    let e = at(
        "[[endpoints]]\npath = \"/a\"\n[[endpoints]]\npath = \"/b\"\n[[endpoints]]\npath = \"/a\"\n",
        "endpoints[2].path",
        "\"/a\"",
    );
    assert!(e.problem.contains("endpoints[0]"), "{e}");
}

#[test]
fn stream_paths_are_routes_like_any_other() {
    let e = at(
        "[[endpoints]]\npath = \"/a\"\nsse_path = \"/b\"\n[[endpoints]]\npath = \"/b\"\n",
        "endpoints[1].path",
        "\"/b\"",
    );
    assert!(e.problem.contains("endpoints[0].sse_path"), "{e}");
    at(
        "[[endpoints]]\npath = \"/a\"\nsse_path = \"a/sse\"\n",
        "endpoints[0].sse_path",
        "\"a/sse\"",
    );
    let e = at(
        "[server]\nemulation_path = \"/a\"\n[[endpoints]]\npath = \"/a\"\nsse_path = \"/s\"\n",
        "server.emulation_path",
        "\"/a\"",
    );
    assert!(e.problem.contains("endpoints[0].path"), "{e}");
    let e = at(
        "[demo]\nenabled = true\n[[endpoints]]\npath = \"/demo/ws\"\n",
        "endpoints[0].path",
        "\"/demo/ws\"",
    );
    assert!(e.problem.contains("demo"), "{e}");
}

#[test]
fn http_streaming_is_for_channels_endpoints_only() {
    let e = at(
        "[[endpoints]]\npath = \"/a\"\nhttp_stream_path = \"/a/stream\"\n",
        "endpoints[0].http_stream_path",
        "\"/a/stream\"",
    );
    assert!(e.fix.contains("sse_path"), "{e}");
    // The emulation path is only a route when some endpoint streams.
    let ok = "[server]\nemulation_path = \"/a\"\n[[endpoints]]\npath = \"/a\"\n";
    assert!(Config::from_toml_str(ok).is_ok());
}

#[test]
fn heartbeat_send_needs_timeout_below_interval() {
    let e = at(
        &endpoint("[endpoints.heartbeat]\nmode = \"send\"\ninterval_ms = 1000\ntimeout_ms = 1000"),
        "endpoints[0].heartbeat.timeout_ms",
        "1000",
    );
    assert!(e.problem.contains("less than interval_ms"), "{e}");
    // `expect` has no such rule: timeout is grace added after the interval.
    assert!(Config::from_toml_str(&endpoint(
        "[endpoints.heartbeat]\nmode = \"expect\"\ninterval_ms = 1000\ntimeout_ms = 5000"
    ))
    .is_ok());
}

#[test]
fn heartbeat_timers_must_be_at_least_10ms_when_on() {
    at(
        &endpoint("[endpoints.heartbeat]\nmode = \"expect\"\ninterval_ms = 9"),
        "endpoints[0].heartbeat.interval_ms",
        "9",
    );
    at(
        &endpoint("[endpoints.heartbeat]\nmode = \"send\"\ntimeout_ms = 0"),
        "endpoints[0].heartbeat.timeout_ms",
        "0",
    );
    // Off: the timers are unused, so they are not checked.
    assert!(Config::from_toml_str(&endpoint(
        "[endpoints.heartbeat]\ninterval_ms = 1\ntimeout_ms = 5"
    ))
    .is_ok());
}

#[test]
fn unknown_welcome_placeholder_is_named() {
    let e = toml_err(&endpoint("welcome_message = '{\"id\":\"{conection_id}\"}'"));
    assert_eq!(e.key, "endpoints[0].welcome_message");
    assert!(e.problem.contains("{conection_id}"), "{e}");
    assert!(e.fix.contains("did you mean {connection_id}"), "{e}");
    assert!(Config::from_toml_str(&endpoint(
        "welcome_message = 'hello {remote_addr} {endpoint}'"
    ))
    .is_ok());
}

#[test]
fn bad_origins() {
    for origin in [
        "example.com",
        "https://example.com/",
        "https://example.com/app",
        "ftp//x",
        "https://a.com:70000",
    ] {
        at(
            &endpoint(&format!("allowed_origins = [\"*\", \"{origin}\"]")),
            "endpoints[0].allowed_origins[1]",
            &format!("\"{origin}\""),
        );
    }
    assert!(Config::from_toml_str(&endpoint(
        "allowed_origins = [\"https://Example.com:8443\"]"
    ))
    .is_ok());
}

#[test]
fn bad_subprotocols() {
    at(
        &endpoint("subprotocols = [\"ok\", \"not ok\"]"),
        "endpoints[0].subprotocols[1]",
        "\"not ok\"",
    );
    at(
        &endpoint("subprotocols = [\"\"]"),
        "endpoints[0].subprotocols[0]",
        "\"\"",
    );
}

#[test]
fn bad_log_level() {
    let e = at("[log]\nlevel = \"inf\"\n", "log.level", "\"inf\"");
    assert!(e.fix.contains("did you mean `info`"), "{e}");
    at(
        "[log]\nlevel = \"info,hyper=loud\"\n",
        "log.level",
        "\"info,hyper=loud\"",
    );
}

#[test]
fn bad_api_keys() {
    let e = at("[api]\nkey = \"has space\"\n", "api.key", "(hidden)");
    assert!(
        !e.to_string().contains("has space"),
        "the key must not leak: {e}"
    );
    at("[api]\nkey = \"<redacted>\"\n", "api.key", "\"<redacted>\"");
}

#[test]
fn hand_built_configs_are_validated_too() {
    let mut c = Config::default();
    c.endpoints.clear();
    assert_eq!(c.validate().unwrap_err().key, "endpoints");

    let mut c = Config::default();
    c.endpoints[0].idle_timeout = Some(Duration::ZERO);
    assert_eq!(
        c.validate().unwrap_err().key,
        "endpoints[0].idle_timeout_ms"
    );

    let mut c = Config::default();
    c.endpoints.push(EndpointConfig::default());
    assert_eq!(c.validate().unwrap_err().key, "endpoints[1].path");
}
