//! Validation of the security settings: `[auth]`, `[endpoints.auth]`,
//! `[endpoints.limits]`, `[server]` handshake limits, `[server.tls]` and
//! `[[api.keys]]`. Key material itself (PEM, JWKS) is parsed when the
//! server starts; errors there name the key too.

use std::time::Duration;

use super::{AuthMode, JwtConfig};
use crate::error::ConfigError;
use crate::load::REDACTED;
use crate::model::{Config, EndpointConfig, ServerConfig};
use crate::path::quote;

type Check = Result<(), ConfigError>;

/// An HMAC secret shorter than the digest can be guessed offline from one token.
const MIN_HMAC_SECRET: usize = 32;
const MAX_LEEWAY: Duration = Duration::from_secs(300);
const JWKS_TIMEOUT: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(60);
const CONNECT_TIMEOUT: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(300);
const MAX_KEY_NAME: usize = 64;
const HANDSHAKE_TIMEOUT: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(120);
const HEADER_BYTES: std::ops::RangeInclusive<usize> = 8192..=1024 * 1024;

impl Config {
    /// The HMAC secret tokens are checked with: `auth.jwt.hmac_secret`, or
    /// its older name `channels.token_hmac_secret`.
    pub fn token_hmac_secret(&self) -> &str {
        if self.auth.jwt.hmac_secret.is_empty() {
            &self.channels.token_hmac_secret
        } else {
            &self.auth.jwt.hmac_secret
        }
    }

    pub(crate) fn validate_auth(&self) -> Check {
        check_server_limits(&self.server)?;
        check_jwt(&self.auth.jwt)?;
        let (new, old) = (&self.auth.jwt.hmac_secret, &self.channels.token_hmac_secret);
        if !new.is_empty() && !old.is_empty() && new != old {
            return Err(ConfigError::new(
                "channels.token_hmac_secret",
                "(hidden)",
                "differs from auth.jwt.hmac_secret; it is the older name of the same secret",
                "remove channels.token_hmac_secret and keep auth.jwt.hmac_secret",
            ));
        }
        for (i, key) in self.api.keys.iter().enumerate() {
            let at = format!("api.keys[{i}]");
            check_key(&at, &key.name, &key.key, &key.key_sha256)?;
        }
        for (i, endpoint) in self.endpoints.iter().enumerate() {
            self.check_endpoint_auth(i, endpoint)?;
            check_limits(i, endpoint)?;
        }
        Ok(())
    }

    fn check_endpoint_auth(&self, i: usize, e: &EndpointConfig) -> Check {
        let at = format!("endpoints[{i}].auth");
        let a = &e.auth;
        if a.mode != AuthMode::None && a.sources.is_empty() {
            return Err(ConfigError::new(
                format!("{at}.sources"),
                "[]",
                "no source is left to take the credential from, so no client could connect",
                "list at least one of \"header\", \"subprotocol\", \"query\", \"connect\"",
            ));
        }
        if a.mode == AuthMode::Jwt
            && !self.auth.jwt.has_keys()
            && self.token_hmac_secret().is_empty()
        {
            return Err(ConfigError::new(
                format!("{at}.mode"),
                "\"jwt\"",
                "no key to verify tokens with is configured, so every client would be refused",
                "set auth.jwt.hmac_secret, public_key_file, public_key_pem, jwks_url or jwks_file",
            ));
        }
        if a.mode == AuthMode::ApiKey && a.api_keys.is_empty() {
            return Err(ConfigError::new(
                format!("{at}.api_keys"),
                "[]",
                "mode = \"api_key\" needs at least one key, or every client would be refused",
                "add [[endpoints.auth.api_keys]] with name and key (or key_sha256)",
            ));
        }
        let param = &a.query_param;
        if param.is_empty()
            || !param
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Err(ConfigError::new(
                format!("{at}.query_param"),
                quote(param),
                "must be a non-empty name of letters, digits and -._~",
                "use e.g. \"token\"",
            ));
        }
        if !CONNECT_TIMEOUT.contains(&a.connect_timeout) {
            return Err(ConfigError::new(
                format!("{at}.connect_timeout_ms"),
                millis(a.connect_timeout),
                "must be from 100 ms to 5 minutes: shorter fails slow clients, longer lets \
                 unauthenticated connections pile up",
                "use e.g. 10000",
            ));
        }
        for (j, key) in a.api_keys.iter().enumerate() {
            check_key(
                &format!("{at}.api_keys[{j}]"),
                &key.name,
                &key.key,
                &key.key_sha256,
            )?;
        }
        Ok(())
    }
}

fn check_server_limits(s: &ServerConfig) -> Check {
    if !HANDSHAKE_TIMEOUT.contains(&s.handshake_timeout) {
        return Err(ConfigError::new(
            "server.handshake_timeout_ms",
            millis(s.handshake_timeout),
            "must be from 1000 to 120000: shorter fails clients on slow networks, longer lets \
             slow clients hold sockets",
            "use e.g. 10000",
        ));
    }
    if !HEADER_BYTES.contains(&s.max_header_bytes) {
        return Err(ConfigError::new(
            "server.max_header_bytes",
            s.max_header_bytes.to_string(),
            "must be from 8192 (the HTTP parser's smallest buffer) to 1048576",
            "use e.g. 16384",
        ));
    }
    if let Some(tls) = &s.tls {
        for (key, path) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError::new(
                    format!("server.tls.{key}"),
                    "\"\"",
                    "is required when [server.tls] is present",
                    "give the path of a PEM file, or remove [server.tls] to serve plain HTTP",
                ));
            }
        }
    }
    Ok(())
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

fn check_jwt(j: &JwtConfig) -> Check {
    check_hmac_secret(
        "auth.jwt.hmac_secret",
        &j.hmac_secret,
        "SWITCHBOARD_AUTH__JWT__HMAC_SECRET",
    )?;
    if !j.public_key_pem.is_empty() && !j.public_key_pem.contains("-----BEGIN") {
        return Err(ConfigError::new(
            "auth.jwt.public_key_pem",
            "(not PEM)",
            "is not a PEM block",
            "paste the whole key from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----, \
             or use public_key_file",
        ));
    }
    let url = &j.jwks_url;
    if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError::new(
            "auth.jwt.jwks_url",
            quote(url),
            "must be an http:// or https:// URL",
            "use e.g. https://login.example.com/.well-known/jwks.json",
        ));
    }
    if j.jwks_refresh < Duration::from_secs(1) {
        return Err(ConfigError::new(
            "auth.jwt.jwks_refresh_ms",
            millis(j.jwks_refresh),
            "must be at least 1000 ms, or the key server would be polled in a loop",
            "use e.g. 300000 (5 minutes)",
        ));
    }
    if !JWKS_TIMEOUT.contains(&j.jwks_fetch_timeout) {
        return Err(ConfigError::new(
            "auth.jwt.jwks_fetch_timeout_ms",
            millis(j.jwks_fetch_timeout),
            "must be from 100 ms to 60 s, so a slow key server cannot hold up connections",
            "use e.g. 5000",
        ));
    }
    if j.leeway > MAX_LEEWAY {
        return Err(ConfigError::new(
            "auth.jwt.leeway_ms",
            millis(j.leeway),
            "must be at most 300000 (5 minutes); more would accept long-expired tokens",
            "use e.g. 5000",
        ));
    }
    Ok(())
}

/// An HMAC secret at `key` (settable with the variable `var`): not the
/// `check-config` placeholder, and at least 32 bytes when set.
pub(crate) fn check_hmac_secret(key: &str, secret: &str, var: &str) -> Check {
    if secret == REDACTED {
        return Err(ConfigError::new(
            key,
            quote(secret),
            "this is the placeholder check-config prints instead of the real secret",
            format!("put the real secret back, or set it with {var}"),
        ));
    }
    if !secret.is_empty() && secret.len() < MIN_HMAC_SECRET {
        return Err(ConfigError::new(
            key,
            "(hidden)",
            format!(
                "is {} bytes; an HMAC secret shorter than {MIN_HMAC_SECRET} bytes can be \
                 guessed offline from one token",
                secret.len()
            ),
            "use a random secret of at least 32 bytes, e.g. from `openssl rand -hex 32`",
        ));
    }
    Ok(())
}

/// A named key: a valid holder name and exactly one of `key`, `key_sha256`.
fn check_key(at: &str, name: &str, key: &str, key_sha256: &str) -> Check {
    let name_ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
    if !name_ok {
        return Err(ConfigError::new(
            format!("{at}.name"),
            quote(name),
            "must be 1-64 characters of A-Za-z0-9_.@-; it names the key's holder in logs",
            "use e.g. \"backend\"",
        ));
    }
    match (key.is_empty(), key_sha256.is_empty()) {
        (true, true) | (false, false) => {
            return Err(ConfigError::new(
                format!("{at}.key"),
                "(hidden)",
                "exactly one of key and key_sha256 must be set",
                "keep key (the key in clear) or key_sha256 (printf %s KEY | sha256sum)",
            ))
        }
        (false, true) if key == REDACTED => {
            return Err(ConfigError::new(
                format!("{at}.key"),
                quote(key),
                "this is the placeholder check-config prints instead of the real key",
                "put the real key back",
            ))
        }
        (false, true) if !key.chars().all(|c| c.is_ascii_graphic()) => {
            return Err(ConfigError::new(
                format!("{at}.key"),
                "(hidden)",
                "contains a space, control or non-ASCII character, which cannot be sent \
                 reliably in a header",
                "use printable ASCII only, e.g. a hex or base64 string",
            ))
        }
        (true, false)
            if key_sha256.len() != 64 || !key_sha256.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            return Err(ConfigError::new(
                format!("{at}.key_sha256"),
                quote(key_sha256),
                "must be a SHA-256 as 64 hex digits",
                "compute it with: printf %s \"$KEY\" | sha256sum",
            ))
        }
        _ => {}
    }
    Ok(())
}

fn check_limits(i: usize, e: &EndpointConfig) -> Check {
    let at = format!("endpoints[{i}].limits");
    let l = &e.limits;
    for (key, rate) in [
        ("messages_per_second", l.messages_per_second),
        ("user_messages_per_second", l.user_messages_per_second),
    ] {
        if !rate.is_finite() || rate < 0.0 {
            return Err(ConfigError::new(
                format!("{at}.{key}"),
                rate.to_string(),
                "must be a number of 0 (unlimited) or more",
                "use e.g. 100",
            ));
        }
    }
    if l.message_burst == 0 {
        return Err(ConfigError::new(
            format!("{at}.message_burst"),
            "0",
            "must be at least 1, or no message would ever pass the rate limit",
            "use e.g. 50",
        ));
    }
    Ok(())
}
