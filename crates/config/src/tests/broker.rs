//! `[broker]`: Redis Cluster, credentials and TLS keys, their errors,
//! redaction and environment variables.

use std::io::Write;

use super::{env, env_err, toml_err};
use crate::*;

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn redis(extra: &str) -> String {
    format!("[broker]\nkind = \"redis\"\n{extra}\n")
}

/// Asserts the error is at `key` and its problem mentions `problem`.
#[track_caller]
fn fails(toml: &str, key: &str, problem: &str) -> ConfigError {
    let e = toml_err(toml);
    assert_eq!(e.key, key, "{e}");
    assert!(e.problem.contains(problem), "{e}");
    assert!(!e.fix.is_empty(), "{e}");
    e
}

fn ca_file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

#[test]
fn new_keys_default_to_a_single_plain_server() {
    let b = BrokerConfig::default();
    assert!(!b.cluster && b.urls.is_empty() && !b.tls_insecure);
    assert!(b.username.is_empty() && b.password.is_empty() && b.tls_ca_file.is_empty());
    assert_eq!(b.addresses(), ["redis://127.0.0.1:6379"]);
}

#[test]
fn a_cluster_with_tls_and_credentials_loads() {
    let ca = ca_file(PEM);
    let c = Config::from_toml_str(&redis(&format!(
        "cluster = true\nurls = [\"rediss://10.0.0.1:7000\", \"rediss://10.0.0.2:7000\"]\n\
         username = \"app\"\npassword = \"pw\"\ntls_ca_file = {:?}\n",
        ca.path().display().to_string()
    )))
    .unwrap();
    assert!(c.broker.cluster);
    assert_eq!(c.broker.addresses().len(), 2);
    // rediss:// on its own (system roots) is fine too.
    Config::from_toml_str(&redis("url = \"rediss://:pw@redis.example:6380/1\"")).unwrap();
}

#[test]
fn one_entry_in_urls_replaces_url_without_cluster() {
    let c = Config::from_toml_str(&redis("urls = [\"redis://10.0.0.3:6379\"]")).unwrap();
    assert_eq!(c.broker.addresses(), ["redis://10.0.0.3:6379"]);
}

#[test]
fn address_errors_name_the_key() {
    fails(
        &redis("cluster = true"),
        "broker.urls",
        "cluster = true needs",
    );
    let e = fails(
        &redis("urls = [\"redis://:pw@a:1\", \"redis://b:2\"]"),
        "broker.urls",
        "only one Redis server",
    );
    assert!(e.fix.contains("cluster = true"), "{e}");
    assert!(!e.value.contains("pw"), "{e}");
    fails(
        &redis("url = \"http://h:1\""),
        "broker.url",
        "redis:// or rediss://",
    );
    fails(&redis("url = \"redis://\""), "broker.url", "no host");
    fails(
        &redis("url = \"redis://:pw@:6379\""),
        "broker.url",
        "no host",
    );
    fails(
        &redis("cluster = true\nurls = [\"redis://a:1\", \"tcp://b:2\"]"),
        "broker.urls[1]",
        "redis:// or rediss://",
    );
    fails(
        &redis("cluster = true\nurls = [\"rediss://a:1\", \"redis://b:2\"]"),
        "broker.urls[1]",
        "mixes TLS and plain",
    );
    // A memory broker ignores the Redis keys.
    Config::from_toml_str("[broker]\ncluster = true\nurl = \"nonsense\"\n").unwrap();
}

#[test]
fn credential_errors_name_the_key() {
    fails(
        &redis("username = \"app\""),
        "broker.username",
        "without a password",
    );
    Config::from_toml_str(&redis("username = \"app\"\nurl = \"redis://app:pw@h:1\"")).unwrap();
    Config::from_toml_str(&redis("username = \"app\"\npassword = \"pw\"")).unwrap();
}

#[test]
fn tls_errors_name_the_key() {
    fails(
        &redis("tls_insecure = true"),
        "broker.tls_insecure",
        "no TLS",
    );
    let ca = ca_file(PEM);
    let path = ca.path().display().to_string();
    fails(
        &redis(&format!("tls_ca_file = {path:?}")),
        "broker.tls_ca_file",
        "no TLS",
    );
    let tls = "url = \"rediss://h:6380\"\n";
    fails(
        &redis(&format!("{tls}tls_ca_file = {path:?}\ntls_insecure = true")),
        "broker.tls_insecure",
        "certificate check",
    );
    fails(
        &redis(&format!("{tls}tls_ca_file = \"/nonexistent/ca.pem\"")),
        "broker.tls_ca_file",
        "does not exist",
    );
    let not_pem = ca_file("hello");
    fails(
        &redis(&format!(
            "{tls}tls_ca_file = {:?}",
            not_pem.path().display().to_string()
        )),
        "broker.tls_ca_file",
        "no PEM certificate",
    );
    Config::from_toml_str(&redis(&format!("{tls}tls_insecure = true"))).unwrap();
}

#[test]
fn check_config_redacts_every_password_and_refuses_it_back() {
    let c = Config::from_toml_str(&redis(
        "cluster = true\nurls = [\"redis://:s3cret1@a:1\", \"redis://:s3cret1@b:2\"]\npassword = \"s3cret2\"",
    ))
    .unwrap();
    let shown = c.to_toml_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("password = \"<redacted>\""), "{shown}");
    assert!(shown.contains("\"redis://<redacted>@a:1\""), "{shown}");
    let e = toml_err(&shown);
    assert_eq!(e.key, "broker.urls[0]", "{e}");
    assert!(e.fix.contains("SWITCHBOARD_BROKER__URLS__0"), "{e}");
    let e = toml_err(&redis("password = \"<redacted>\""));
    assert_eq!(e.key, "broker.password", "{e}");
    // An empty password stays empty, not a placeholder.
    assert!(Config::default()
        .to_toml_string()
        .contains("password = \"\""));
}

#[test]
fn env_sets_credentials_and_the_address_list() {
    let load = |vars: &[(&str, &str)]| {
        Config::load(None, env(vars), &CliOverrides::default()).map(|c| c.broker)
    };
    // A numeric password stays a string.
    let b = load(&[
        ("SWITCHBOARD_BROKER__KIND", "redis"),
        ("SWITCHBOARD_BROKER__PASSWORD", "12345"),
        ("SWITCHBOARD_BROKER__USERNAME", "007"),
    ])
    .unwrap();
    assert_eq!((b.password.as_str(), b.username.as_str()), ("12345", "007"));
    // The list whole, as a TOML array…
    let b = load(&[
        ("SWITCHBOARD_BROKER__KIND", "redis"),
        ("SWITCHBOARD_BROKER__CLUSTER", "true"),
        (
            "SWITCHBOARD_BROKER__URLS",
            r#"["redis://a:7000", "redis://b:7001"]"#,
        ),
    ])
    .unwrap();
    assert_eq!(b.urls, ["redis://a:7000", "redis://b:7001"]);
    // …or entry by entry.
    let b = load(&[
        ("SWITCHBOARD_BROKER__KIND", "redis"),
        ("SWITCHBOARD_BROKER__CLUSTER", "true"),
        ("SWITCHBOARD_BROKER__URLS__0", "redis://a:7000"),
        ("SWITCHBOARD_BROKER__URLS__1", "redis://b:7001"),
    ])
    .unwrap();
    assert_eq!(b.urls, ["redis://a:7000", "redis://b:7001"]);
    let e = env_err(&[
        ("SWITCHBOARD_BROKER__KIND", "redis"),
        ("SWITCHBOARD_BROKER__TLS_INSECURE", "true"),
    ]);
    assert_eq!(
        e.key, "SWITCHBOARD_BROKER__TLS_INSECURE (broker.tls_insecure)",
        "{e}"
    );
}
