//! `switchboard check-config`: prints the effective config as TOML, redacts
//! the key, and refuses bad files with exit 2 and an error naming the key.

mod common;

use common::*;
use switchboard::Config;

fn path_of(file: &tempfile::NamedTempFile) -> &str {
    file.path().to_str().unwrap()
}

async fn check(toml: &str) -> (i32, String, String) {
    let file = config_file(toml);
    BinCommand::new(&["check-config", "--config", path_of(&file)])
        .clean_env()
        .run()
        .await
}

#[tokio::test]
async fn without_any_config_the_defaults_are_printed() {
    let (code, stdout, stderr) = BinCommand::new(&["check-config"]).clean_env().run().await;
    assert_eq!(code, 0, "{stderr}");
    let config = Config::from_toml_str(&stdout).expect("output is a loadable config");
    assert_eq!(config.server.bind.to_string(), "0.0.0.0:8080");
    assert_eq!(config.endpoints.len(), 1);
    assert_eq!(config.endpoints[0].path, "/ws");
    assert!(config.endpoints[0].welcome);
    assert!(config.sinks.stdout.enabled);
    assert_eq!(config, Config::default());
    assert!(stdout.contains("bind = \"0.0.0.0:8080\""), "{stdout}");
}

#[tokio::test]
async fn the_file_is_printed_as_the_effective_config() {
    let toml = r#"
[server]
bind = "127.0.0.1:9100"
drain_timeout_ms = 250

[[endpoints]]
path = "/events"
max_connections = 42

[[endpoints]]
path = "/echo"
mode = "echo"
"#;
    let (code, stdout, stderr) = check(toml).await;
    assert_eq!(code, 0, "{stderr}");
    let printed = Config::from_toml_str(&stdout).expect("output is a loadable config");
    assert_eq!(printed, Config::from_toml_str(toml).unwrap());
    assert_eq!(printed.endpoints[0].max_connections, 42);
    assert_eq!(printed.endpoints[1].path, "/echo");
    // Defaults are spelled out, so the output documents every value in force.
    assert!(stdout.contains("max_message_size = 1048576"), "{stdout}");
    assert!(stdout.contains("drain_timeout_ms = 250"), "{stdout}");
}

#[tokio::test]
async fn the_api_key_is_redacted() {
    let (code, stdout, stderr) = check("[api]\nkey = \"hunter2-secret\"\n").await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("key = \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains("hunter2"), "the key leaked: {stdout}");
    // The placeholder cannot be installed as a key by pasting the output back.
    let err = Config::from_toml_str(&stdout).expect_err("placeholder refused");
    assert!(err.to_string().contains("api.key"), "{err}");
}

#[tokio::test]
async fn bad_values_exit_2_naming_the_key_and_a_fix() {
    let cases = [
        (
            "[[endpoints]]\npath = \"/ws\"\nmax_connections = 0\n",
            "endpoints[0].max_connections",
            "at least 1",
        ),
        (
            "[[endpoints]]\npath = \"/ws\"\n[[endpoints]]\npath = \"/b\"\nmode = \"rwa\"\n",
            "endpoints[1].mode",
            "did you mean `raw`",
        ),
        (
            "[[endpoints]]\npath = \"/ws\"\nmax_conections = 5\n",
            "endpoints[0].max_conections",
            "did you mean `max_connections`",
        ),
        ("[server]\nbind = \"localhost\"\n", "server.bind", "fix:"),
        ("[server\nbind = 1\n", "--config", "line 1"),
        (
            "[[endpoints]]\nmode = \"echo\"\n",
            "endpoints[0].path",
            "fix:",
        ),
    ];
    for (toml, key, hint) in cases {
        let (code, stdout, stderr) = check(toml).await;
        assert_eq!(code, 2, "{toml}: {stdout}");
        assert!(stdout.is_empty(), "nothing printed on stdout: {stdout}");
        assert!(stderr.starts_with("config error: "), "{stderr}");
        assert!(stderr.contains(key), "{toml}: expected {key} in {stderr}");
        assert!(stderr.contains("fix:"), "{stderr}");
        assert!(stderr.contains(hint), "{toml}: expected {hint} in {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

#[tokio::test]
async fn a_missing_file_exits_2_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["check-config", "--config", missing],
        // The server command fails the same way, before binding anything.
        vec!["--config", missing],
    ] {
        let (code, stdout, stderr) = BinCommand::new(&args).clean_env().run().await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains("--config"), "{stderr}");
        assert!(stderr.contains(missing), "{stderr}");
        assert!(stderr.contains("does not exist"), "{stderr}");
    }
}

#[tokio::test]
async fn the_server_command_refuses_a_bad_config_too() {
    let file = config_file("[[endpoints]]\npath = \"/ws\"\nmax_connections = 0\n");
    let (code, stdout, stderr) = BinCommand::new(&["--config", path_of(&file)])
        .clean_env()
        .run()
        .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("endpoints[0].max_connections"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}
