use std::io::Write;
use std::net::SocketAddr;

use super::env;
use crate::*;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn cli_beats_env_beats_file_beats_defaults() {
    let f = file("[server]\nbind = \"127.0.0.1:1001\"\n");
    let vars = env(&[("SWITCHBOARD_SERVER__BIND", "127.0.0.1:1002")]);
    let cli = CliOverrides {
        bind: Some(addr("127.0.0.1:1003")),
    };

    let all = Config::load(Some(f.path()), vars.clone(), &cli).unwrap();
    assert_eq!(all.server.bind, addr("127.0.0.1:1003"));

    let no_cli = Config::load(Some(f.path()), vars, &CliOverrides::default()).unwrap();
    assert_eq!(no_cli.server.bind, addr("127.0.0.1:1002"));

    let file_only = Config::load(Some(f.path()), env(&[]), &CliOverrides::default()).unwrap();
    assert_eq!(file_only.server.bind, addr("127.0.0.1:1001"));

    let nothing = Config::load(None, env(&[]), &CliOverrides::default()).unwrap();
    assert_eq!(nothing.server.bind, addr("0.0.0.0:8080"));
}

#[test]
fn env_beats_file_inside_endpoints_and_keeps_the_rest_of_the_file() {
    let f = file("[[endpoints]]\npath = \"/a\"\nmax_connections = 100\nmode = \"echo\"\n");
    let c = Config::load(
        Some(f.path()),
        env(&[("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "5")]),
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.endpoints.len(), 1);
    assert_eq!(c.endpoints[0].max_connections, 5);
    assert_eq!(c.endpoints[0].path, "/a");
    assert_eq!(c.endpoints[0].mode, Mode::Echo);
}

#[test]
fn env_edits_the_default_endpoint_when_the_file_has_none() {
    let c = Config::load(
        None,
        env(&[
            ("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "5"),
            ("SWITCHBOARD_ENDPOINTS__0__HEARTBEAT__MODE", "send"),
        ]),
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.endpoints.len(), 1);
    let e = &c.endpoints[0];
    assert_eq!(
        (e.path.as_str(), e.max_connections, e.welcome),
        ("/ws", 5, true)
    );
    assert_eq!(e.heartbeat.mode, HeartbeatMode::Send);
}

#[test]
fn env_appends_endpoints_in_numeric_order() {
    // Deliberately out of order: the process environment has no order.
    let vars = env(&[
        ("SWITCHBOARD_ENDPOINTS__2__PATH", "/c"),
        ("SWITCHBOARD_ENDPOINTS__1__MODE", "echo"),
        ("SWITCHBOARD_ENDPOINTS__1__PATH", "/b"),
    ]);
    let c = Config::load(None, vars, &CliOverrides::default()).unwrap();
    let paths: Vec<&str> = c.endpoints.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/ws", "/b", "/c"]);
    assert_eq!(c.endpoints[1].mode, Mode::Echo);
    assert!(!c.endpoints[1].welcome);
}

#[test]
fn env_values_are_typed_by_toml_and_string_keys_stay_verbatim() {
    let c = Config::load(
        None,
        env(&[
            ("SWITCHBOARD_API__KEY", "12345"),
            ("SWITCHBOARD_SERVER__SHUTDOWN_NOTICE", "true"),
            ("SWITCHBOARD_SINKS__STDOUT__ENABLED", "false"),
            (
                "SWITCHBOARD_ENDPOINTS__0__ALLOWED_ORIGINS",
                r#"["https://a.example", "http://localhost:3000"]"#,
            ),
            ("SWITCHBOARD_SERVER__TRUSTED_PROXIES", r#"["10.0.0.0/8"]"#),
            ("SWITCHBOARD_LOG__FORMAT", "json"),
        ]),
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c.api.key, "12345");
    assert_eq!(c.server.shutdown_notice.as_deref(), Some("true"));
    assert!(!c.sinks.stdout.enabled);
    assert_eq!(
        c.endpoints[0].allowed_origins,
        ["https://a.example", "http://localhost:3000"]
    );
    assert_eq!(c.server.trusted_proxies.len(), 1);
    assert_eq!(c.log.format, LogFormat::Json);
}

#[test]
fn variables_without_the_prefix_are_ignored() {
    let c = Config::load(
        None,
        env(&[
            ("PATH", "/usr/bin"),
            ("SWITCHBOARDX", "1"),
            ("switchboard_api__key", "x"),
        ]),
        &CliOverrides::default(),
    )
    .unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn env_alone_can_replace_the_whole_endpoint_list() {
    let c = Config::load(
        None,
        env(&[(
            "SWITCHBOARD_ENDPOINTS",
            r#"[{ path = "/x" }, { path = "/y", mode = "echo" }]"#,
        )]),
        &CliOverrides::default(),
    )
    .unwrap();
    let paths: Vec<&str> = c.endpoints.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/x", "/y"]);
}
