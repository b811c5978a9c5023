//! `[auth]`, `[endpoints.auth]`, `[endpoints.limits]`, `[[api.keys]]` and
//! namespace access levels: what loads, and each error's key and value.

use super::{endpoint, toml_err};
use crate::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[track_caller]
fn at(toml: &str, key: &str, value: &str) {
    let e = toml_err(toml);
    assert_eq!((e.key.as_str(), e.value.as_str()), (key, value), "{e}");
    assert!(!e.problem.is_empty() && !e.fix.is_empty(), "{e}");
}

fn with_secret(rest: &str) -> String {
    format!("[auth.jwt]\nhmac_secret = \"{SECRET}\"\n{}", endpoint(rest))
}

#[test]
fn a_jwt_endpoint_loads_with_a_key() {
    let c = Config::from_toml_str(&with_secret(
        "[endpoints.auth]\nmode = \"jwt\"\nsources = [\"query\", \"connect\"]\nquery_param = \"access_token\"",
    ))
    .unwrap();
    let auth = &c.endpoints[0].auth;
    assert_eq!(auth.mode, AuthMode::Jwt);
    assert!(auth.accepts(TokenSource::Query) && !auth.accepts(TokenSource::Header));
    assert_eq!(c.token_hmac_secret(), SECRET);
}

#[test]
fn endpoint_auth_errors() {
    at(
        &endpoint("[endpoints.auth]\nmode = \"jwt\""),
        "endpoints[0].auth.mode",
        "\"jwt\"",
    );
    at(
        &with_secret("[endpoints.auth]\nmode = \"jwt\"\nsources = []"),
        "endpoints[0].auth.sources",
        "[]",
    );
    at(
        &endpoint("[endpoints.auth]\nmode = \"api_key\""),
        "endpoints[0].auth.api_keys",
        "[]",
    );
    at(
        &with_secret("[endpoints.auth]\nquery_param = \"a b\""),
        "endpoints[0].auth.query_param",
        "\"a b\"",
    );
    at(
        &with_secret("[endpoints.auth]\nconnect_timeout_ms = 50"),
        "endpoints[0].auth.connect_timeout_ms",
        "50",
    );
}

#[test]
fn key_errors() {
    let key = |fields: &str| {
        endpoint(&format!(
            "[endpoints.auth]\nmode = \"api_key\"\n[[endpoints.auth.api_keys]]\n{fields}"
        ))
    };
    at(
        &key("name = \"d\""),
        "endpoints[0].auth.api_keys[0].key",
        "(hidden)",
    );
    at(
        &key("name = \"d\"\nkey = \"k\"\nkey_sha256 = \"ab\""),
        "endpoints[0].auth.api_keys[0].key",
        "(hidden)",
    );
    at(
        &key("name = \"d\"\nkey_sha256 = \"xyz\""),
        "endpoints[0].auth.api_keys[0].key_sha256",
        "\"xyz\"",
    );
    at(
        &key("name = \"a b\"\nkey = \"k\""),
        "endpoints[0].auth.api_keys[0].name",
        "\"a b\"",
    );
    at(
        "[[api.keys]]\nname = \"r\"\nkey = \"<redacted>\"\nscope = \"read\"\n",
        "api.keys[0].key",
        "\"<redacted>\"",
    );
    let e = toml_err("[[api.keys]]\nname = \"r\"\nkey = \"k\"\nscope = \"root\"\n");
    assert_eq!(e.key, "api.keys[0].scope", "{e}");
}

#[test]
fn jwt_errors() {
    at(
        "[auth.jwt]\nhmac_secret = \"short\"\n",
        "auth.jwt.hmac_secret",
        "(hidden)",
    );
    at(
        &format!("[auth.jwt]\nhmac_secret = \"{SECRET}\"\n[channels]\ntoken_hmac_secret = \"{SECRET}-other\"\n"),
        "channels.token_hmac_secret",
        "(hidden)",
    );
    at(
        "[auth.jwt]\njwks_url = \"ftp://x\"\n",
        "auth.jwt.jwks_url",
        "\"ftp://x\"",
    );
    at(
        "[auth.jwt]\njwks_fetch_timeout_ms = 10\n",
        "auth.jwt.jwks_fetch_timeout_ms",
        "10",
    );
    at(
        "[auth.jwt]\njwks_refresh_ms = 10\n",
        "auth.jwt.jwks_refresh_ms",
        "10",
    );
    at(
        "[auth.jwt]\nleeway_ms = 300001\n",
        "auth.jwt.leeway_ms",
        "300001",
    );
    at(
        "[auth.jwt]\npublic_key_pem = \"abc\"\n",
        "auth.jwt.public_key_pem",
        "(not PEM)",
    );
}

#[test]
fn limit_errors() {
    at(
        &endpoint("[endpoints.limits]\nmessage_burst = 0"),
        "endpoints[0].limits.message_burst",
        "0",
    );
    at(
        &endpoint("[endpoints.limits]\nmessages_per_second = -1.0"),
        "endpoints[0].limits.messages_per_second",
        "-1",
    );
}

#[test]
fn access_levels_in_namespaces() {
    let c = Config::from_toml_str(
        "[channels.default]\nallow_publish = \"authenticated\"\nallow_subscribe = \"token\"\nallow_history = false\n",
    )
    .unwrap();
    let o = &c.channels.default;
    assert_eq!(
        (
            o.allow_publish,
            o.allow_subscribe,
            o.allow_history,
            o.allow_presence
        ),
        (
            Access::Authenticated,
            Access::Token,
            Access::Nobody,
            Access::Anyone
        )
    );
    let e = toml_err("[channels.default]\nallow_publish = \"admins\"\n");
    assert_eq!(e.key, "channels.default.allow_publish", "{e}");
    assert!(e.fix.contains("authenticated"), "{e}");
}

#[test]
fn check_config_hides_every_secret() {
    let c = Config::from_toml_str(&format!(
        "[auth.jwt]\nhmac_secret = \"{SECRET}\"\n[[api.keys]]\nname = \"r\"\nkey = \"clear-key\"\n{}",
        endpoint("[endpoints.auth]\nmode = \"api_key\"\n[[endpoints.auth.api_keys]]\nname = \"d\"\nkey = \"device-key\"")
    ))
    .unwrap();
    let shown = c.to_toml_string();
    for secret in [SECRET, "clear-key", "device-key"] {
        assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
    }
}
