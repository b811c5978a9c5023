//! `[sinks]` and `[proxy]`: what is refused, naming the key.

use super::toml_err;
use crate::*;

#[track_caller]
fn at(toml: &str, key: &str) -> ConfigError {
    let e = toml_err(toml);
    assert_eq!(e.key, key, "{e}");
    assert!(!e.problem.is_empty() && !e.fix.is_empty(), "{e}");
    e
}

const HOOK: &str = "[[sinks.webhooks]]\nname = \"flows\"\nurl = \"http://127.0.0.1:1880/hook\"\n";

#[test]
fn a_good_webhook_and_stream_load() {
    let c = Config::from_toml_str(&format!(
        "{HOOK}[sinks.webhooks.delivery]\nbatch_size = 20\n\n[[sinks.redis_streams]]\nname = \"s\"\nurl = \"redis://127.0.0.1:6379\"\n"
    ))
    .unwrap();
    assert_eq!(c.sinks.webhooks[0].delivery.batch_size, 20);
    assert_eq!(c.sinks.redis_streams[0].stream, "switchboard:events");
    assert!(c.sinks.needs_store());
    assert!(!Config::default().sinks.needs_store());
}

#[test]
fn bad_sinks_name_their_key() {
    at(
        "[[sinks.webhooks]]\nurl = \"http://x/\"\n",
        "sinks.webhooks[0].name",
    );
    at(
        &format!("{HOOK}{}", HOOK.replace("1880", "1881")),
        "sinks.webhooks[1].name",
    );
    at(&HOOK.replace("http://", "ftp://"), "sinks.webhooks[0].url");
    at(
        &format!("{HOOK}events = [\"mesage\"]\n"),
        "sinks.webhooks[0].events[0]",
    );
    at(
        &format!("{HOOK}endpoints = [\"/nope\"]\n"),
        "sinks.webhooks[0].endpoints[0]",
    );
    at(
        &format!("{HOOK}timeout_ms = 5\n"),
        "sinks.webhooks[0].timeout_ms",
    );
    at(
        &format!("{HOOK}[sinks.webhooks.delivery]\nbatch_size = 0\n"),
        "sinks.webhooks[0].delivery.batch_size",
    );
    at(
        &format!(
            "{HOOK}[sinks.webhooks.delivery]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 100\n"
        ),
        "sinks.webhooks[0].delivery.backoff_initial_ms",
    );
    at(
        "[[sinks.redis_streams]]\nname = \"s\"\nurl = \"http://redis\"\n",
        "sinks.redis_streams[0].url",
    );
    at(
        &format!("{HOOK}[[sinks.redis_streams]]\nname = \"flows\"\nurl = \"redis://r\"\n"),
        "sinks.redis_streams[0].name",
    );
}

#[test]
fn the_proxy_needs_its_urls() {
    at(
        "[[endpoints]]\npath = \"/ws\"\n[endpoints.auth]\nmode = \"proxy\"\n",
        "endpoints[0].auth.mode",
    );
    at(
        "[channels.default]\nproxy_subscribe = true\n",
        "channels.default.proxy_subscribe",
    );
    at(
        "[[channels.namespaces]]\nname = \"chat\"\nproxy_publish = true\n",
        "channels.namespaces[0].proxy_publish",
    );
    at("[proxy]\nrpc_url = \"backend/rpc\"\n", "proxy.rpc_url");
    at(
        "[proxy]\nrpc_url = \"http://b/rpc\"\ntimeout_ms = 0\n",
        "proxy.timeout_ms",
    );
}

#[test]
fn secrets_are_redacted_in_check_config() {
    let c = Config::from_toml_str(&format!(
        "{HOOK}secret = \"hook-secret\"\n[[sinks.redis_streams]]\nname = \"s\"\nurl = \"redis://u:pw@r:6379\"\n[proxy]\nsecret = \"proxy-secret\"\n"
    ))
    .unwrap();
    let shown = c.to_toml_string();
    for secret in ["hook-secret", "proxy-secret", ":pw@"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
}
