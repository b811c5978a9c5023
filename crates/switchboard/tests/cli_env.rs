//! Configuration layering through the binary: file < environment < `--bind`,
//! and a bad environment value names its variable.

mod common;

use common::*;
use switchboard::Config;

const FILE: &str = r#"
[server]
bind = "127.0.0.1:9000"

[[endpoints]]
path = "/ws"
max_connections = 100
"#;

/// `switchboard [pre…] check-config --config FILE` with these variables
/// (and only PATH besides): (exit code, loaded stdout or None, stderr).
async fn check(
    pre: &[&str],
    file: Option<&str>,
    env: &[(&str, &str)],
) -> (i32, Option<Config>, String) {
    let file = file.map(config_file);
    let mut args: Vec<&str> = pre.to_vec();
    args.push("check-config");
    if let Some(file) = &file {
        args.extend(["--config", file.path().to_str().unwrap()]);
    }
    let mut command = BinCommand::new(&args).clean_env();
    for (name, value) in env {
        command = command.env(name, value);
    }
    let (code, stdout, stderr) = command.run().await;
    let config = (code == 0).then(|| Config::from_toml_str(&stdout).expect("loadable output"));
    (code, config, stderr)
}

#[tokio::test]
async fn the_file_alone_applies() {
    let (code, config, stderr) = check(&[], Some(FILE), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let config = config.unwrap();
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:9000");
    assert_eq!(config.endpoints[0].max_connections, 100);
}

#[tokio::test]
async fn environment_overrides_the_file() {
    let env = [
        ("SWITCHBOARD_SERVER__BIND", "127.0.0.1:9001"),
        ("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "5"),
        ("UNRELATED_VARIABLE", "ignored"),
    ];
    let (code, config, stderr) = check(&[], Some(FILE), &env).await;
    assert_eq!(code, 0, "{stderr}");
    let config = config.unwrap();
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:9001");
    assert_eq!(config.endpoints[0].max_connections, 5);
    // Keys the environment did not name keep the file's values.
    assert_eq!(config.endpoints[0].path, "/ws");
    assert_eq!(config.endpoints.len(), 1);
}

#[tokio::test]
async fn bind_flag_overrides_environment_and_file() {
    let env = [("SWITCHBOARD_SERVER__BIND", "127.0.0.1:9001")];
    let (code, config, stderr) = check(&["--bind", "127.0.0.1:9002"], Some(FILE), &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(config.unwrap().server.bind.to_string(), "127.0.0.1:9002");
}

#[tokio::test]
async fn environment_edits_the_default_endpoint_without_a_file() {
    let env = [("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "5")];
    let (code, config, stderr) = check(&[], None, &env).await;
    assert_eq!(code, 0, "{stderr}");
    let config = config.unwrap();
    assert_eq!(config.endpoints.len(), 1);
    assert_eq!(config.endpoints[0].path, "/ws");
    assert!(config.endpoints[0].welcome);
    assert_eq!(config.endpoints[0].max_connections, 5);
}

#[tokio::test]
async fn text_keys_take_the_value_as_given() {
    let env = [("SWITCHBOARD_API__KEY", "12345")];
    let file = config_file(FILE);
    let (code, stdout, stderr) =
        BinCommand::new(&["check-config", "--config", file.path().to_str().unwrap()])
            .clean_env()
            .env(env[0].0, env[0].1)
            .run()
            .await;
    assert_eq!(code, 0, "a numeric-looking key is still a key: {stderr}");
    assert!(stdout.contains("key = \"<redacted>\""), "{stdout}");
}

#[tokio::test]
async fn a_bad_environment_value_names_the_variable() {
    let cases = [
        (
            ("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "lots"),
            "endpoints[0].max_connections",
        ),
        (
            ("SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS", "0"),
            "at least 1",
        ),
        (("SWITCHBOARD_SERVER__BIND", "nowhere"), "server.bind"),
        (("SWITCHBOARD_SERVER__BINDD", "127.0.0.1:1"), "bind"),
        (("SWITCHBOARD_ENDPOINTS__5__PATH", "/x"), "endpoints"),
    ];
    for ((name, value), detail) in cases {
        let (code, _, stderr) = check(&[], Some(FILE), &[(name, value)]).await;
        assert_eq!(code, 2, "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
        assert!(
            stderr.contains(detail),
            "{name}={value}: expected {detail} in {stderr}"
        );
        assert!(stderr.contains("fix:"), "{stderr}");
    }
}
