use std::path::Path;

use super::{endpoint, env, toml_err};
use crate::*;

#[test]
fn missing_file_names_the_path() {
    let e = Config::load(
        Some(Path::new("/nope.toml")),
        env(&[]),
        &CliOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(e.key, "--config");
    assert_eq!(e.value, "/nope.toml");
    assert!(e.problem.contains("does not exist"), "{e}");
    assert_eq!(
        e.to_string(),
        "config error: --config = /nope.toml: the file does not exist; \
         fix: check the path, or leave out --config to use the built-in defaults"
    );
}

#[test]
fn a_directory_is_not_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(Some(dir.path()), env(&[]), &CliOverrides::default()).unwrap_err();
    assert_eq!(e.key, "--config");
    assert_eq!(e.value, dir.path().display().to_string());
}

#[test]
fn syntax_errors_give_line_and_column() {
    let e = toml_err("[server]\nbind = \"0.0.0.0:1\"\nbad line here\n");
    assert!(e.problem.contains("line 3, column"), "{e}");
    assert!(!e.to_string().contains('\n'), "{e}");
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, b"[server\n").unwrap();
    let e = Config::load(Some(f.path()), env(&[]), &CliOverrides::default()).unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.value.clone()),
        ("--config", f.path().display().to_string())
    );
    assert!(e.problem.contains("line 1, column"), "{e}");
}

#[test]
fn wrong_type_names_key_value_and_expected_type() {
    let e = toml_err(&endpoint("max_connections = \"lots\""));
    assert_eq!(e.key, "endpoints[0].max_connections");
    assert_eq!(e.value, "\"lots\"");
    assert!(e.problem.contains("whole number"), "{e}");
    assert!(e.fix.contains("at least 1"), "{e}");

    let e = toml_err("[sinks.stdout]\nenabled = \"yes\"\n");
    assert_eq!(e.key, "sinks.stdout.enabled");
    assert!(e.fix.contains("true or false"), "{e}");

    let e = toml_err("server = 5\n");
    assert_eq!((e.key.as_str(), e.value.as_str()), ("server", "5"));
    assert!(e.problem.contains("table"), "{e}");
}

#[test]
fn unknown_enum_value_lists_the_allowed_ones() {
    let e = toml_err(&endpoint("mode = \"rwa\""));
    assert_eq!(e.key, "endpoints[0].mode");
    assert_eq!(e.value, "\"rwa\"");
    assert!(e.fix.contains("raw, echo, channels"), "{e}");
    assert!(e.fix.contains("did you mean `raw`"), "{e}");

    let e = toml_err(&endpoint("[endpoints.heartbeat]\nmode = \"ping\""));
    assert_eq!(e.key, "endpoints[0].heartbeat.mode");
    assert!(e.fix.contains("none, send, expect"), "{e}");

    let e = toml_err(&endpoint("compression = 1"));
    assert_eq!(e.key, "endpoints[0].compression");
    assert!(e.fix.contains("disabled, shared, dedicated"), "{e}");
}

#[test]
fn unknown_key_is_named_with_a_suggestion() {
    let e = toml_err(&endpoint("max_conections = 5"));
    assert_eq!(e.key, "endpoints[0].max_conections");
    assert_eq!(e.value, "5");
    assert!(e.problem.contains("unknown key `max_conections`"), "{e}");
    assert!(e.fix.contains("did you mean `max_connections`"), "{e}");

    let e = toml_err("[servr]\nbind = \"0.0.0.0:1\"\n");
    assert_eq!(e.key, "servr");
    assert!(e.fix.contains("`server`"), "{e}");

    let e = toml_err("[log]\nzzz = 1\n");
    assert_eq!(e.key, "log.zzz");
    assert!(e.fix.contains("level, format"), "{e}");
}

#[test]
fn bad_bind_address() {
    let e = toml_err("[server]\nbind = \"localhost\"\n");
    assert_eq!(
        (e.key.as_str(), e.value.as_str()),
        ("server.bind", "\"localhost\"")
    );
    assert!(e.fix.contains("IP:PORT"), "{e}");
}

#[test]
fn bad_trusted_proxy() {
    let e = toml_err("[server]\ntrusted_proxies = [\"10.0.0.0/99\"]\n");
    assert_eq!(e.key, "server.trusted_proxies");
    assert!(e.problem.contains("10.0.0.0/99"), "{e}");
}

#[test]
fn negative_and_oversized_numbers() {
    let e = toml_err(&endpoint("[endpoints.deflate]\nlevel = -1"));
    assert_eq!(
        (e.key.as_str(), e.value.as_str()),
        ("endpoints[0].deflate.level", "-1")
    );
    let e = toml_err(&endpoint(
        "[endpoints.deflate]\nserver_max_window_bits = 300",
    ));
    assert_eq!(e.key, "endpoints[0].deflate.server_max_window_bits");
    assert!(e.fix.contains("9 to 15"), "{e}");
    let e = toml_err(&endpoint("idle_timeout_ms = -5"));
    assert_eq!(e.key, "endpoints[0].idle_timeout_ms");
}

#[test]
fn an_endpoint_without_a_path_is_an_error() {
    let e = toml_err("[[endpoints]]\npath = \"/a\"\n[[endpoints]]\nmode = \"echo\"\n");
    assert_eq!(e.key, "endpoints[1].path");
    assert!(e.problem.contains("needs a path"), "{e}");
}

#[test]
fn an_empty_endpoint_list_is_an_error() {
    let e = toml_err("endpoints = []\n");
    assert_eq!((e.key.as_str(), e.value.as_str()), ("endpoints", "[]"));
    assert!(e.problem.contains("at least one endpoint"), "{e}");
}
