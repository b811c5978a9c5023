//! Validation of `[broker]`: every failure names the key, the value and the
//! fix. Redis-specific rules apply only with `kind = "redis"`, so a memory
//! broker never fails on Redis settings it does not use.

use super::{redact_url, BrokerConfig, BrokerKind};
use crate::error::ConfigError;
use crate::load::REDACTED;
use crate::path::quote;

type Check = Result<(), ConfigError>;

const URL_FIX: &str = "use redis://[[user]:password@]host:port[/db], or rediss://… for TLS, \
                       e.g. redis://127.0.0.1:6379";

pub(super) fn validate(b: &BrokerConfig) -> Check {
    placeholders(b)?;
    if b.kind == BrokerKind::Redis {
        addresses(b)?;
        credentials(b)?;
        tls(b)?;
    }
    prefix(&b.prefix)
}

/// `check-config` output pasted back as a config must not connect with
/// `<redacted>` as the password.
fn placeholders(b: &BrokerConfig) -> Check {
    let urls = std::iter::once(("broker.url".to_owned(), &b.url)).chain(
        b.urls
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("broker.urls[{i}]"), u)),
    );
    for (key, url) in urls {
        if url.contains(REDACTED) {
            // `broker.urls[2]` is set by SWITCHBOARD_BROKER__URLS__2.
            let var = format!(
                "SWITCHBOARD_{}",
                key.replace(['.', '['], "__")
                    .replace(']', "")
                    .to_uppercase()
            );
            return Err(ConfigError::new(
                key,
                quote(url),
                "holds the placeholder check-config prints instead of the real password",
                format!("put the real password back, or set it with {var}"),
            ));
        }
    }
    if b.password == REDACTED {
        return Err(ConfigError::new(
            "broker.password",
            quote(&b.password),
            "this is the placeholder check-config prints instead of the real password",
            "put the real password back, or set it with SWITCHBOARD_BROKER__PASSWORD",
        ));
    }
    Ok(())
}

/// The key an address came from: `broker.url`, or `broker.urls[i]`.
fn address_key(b: &BrokerConfig, i: usize) -> String {
    if b.urls.is_empty() {
        "broker.url".to_owned()
    } else {
        format!("broker.urls[{i}]")
    }
}

fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://")
}

fn addresses(b: &BrokerConfig) -> Check {
    if b.cluster && b.urls.is_empty() {
        return Err(ConfigError::new(
            "broker.urls",
            "[]",
            "cluster = true needs the addresses of one or more cluster nodes (broker.url is not used for a cluster)",
            "list them, e.g. urls = [\"redis://10.0.0.1:7000\", \"redis://10.0.0.2:7000\"]",
        ));
    }
    if !b.cluster && b.urls.len() > 1 {
        let shown: Vec<String> = b.urls.iter().map(|u| quote(&redact_url(u))).collect();
        return Err(ConfigError::new(
            "broker.urls",
            format!("[{}]", shown.join(", ")),
            format!(
                "lists {} addresses, but without cluster = true only one Redis server is used",
                b.urls.len()
            ),
            "set cluster = true if they are nodes of a Redis Cluster, or keep one address",
        ));
    }
    let addresses = b.addresses();
    for (i, url) in addresses.iter().enumerate() {
        let rest = url
            .strip_prefix("redis://")
            .or_else(|| url.strip_prefix("rediss://"));
        let host = rest.map(|r| r.rsplit_once('@').map_or(r, |(_, h)| h));
        let problem = match host {
            None => "must be a redis:// or rediss:// (TLS) URL",
            Some(h) if h.is_empty() || h.starts_with(['/', ':']) => "has no host",
            Some(_) => continue,
        };
        return Err(ConfigError::new(
            address_key(b, i),
            quote(&redact_url(url)),
            problem,
            URL_FIX,
        ));
    }
    if let Some(i) = addresses
        .iter()
        .position(|u| is_tls(u) != is_tls(&addresses[0]))
    {
        return Err(ConfigError::new(
            address_key(b, i),
            quote(&redact_url(&addresses[i])),
            format!(
                "mixes TLS and plain addresses: broker.urls[0] is {}",
                if is_tls(&addresses[0]) {
                    "rediss:// (TLS)"
                } else {
                    "redis:// (no TLS)"
                }
            ),
            "use rediss:// for every address, or redis:// for every address",
        ));
    }
    Ok(())
}

fn credentials(b: &BrokerConfig) -> Check {
    // `redis://user:pass@h`: a password is whatever follows the first ':'
    // of the user info.
    let url_has_password = |u: &str| {
        u.split_once("://")
            .and_then(|(_, rest)| rest.rsplit_once('@'))
            .and_then(|(info, _)| info.split_once(':'))
            .is_some_and(|(_, pass)| !pass.is_empty())
    };
    if !b.username.is_empty()
        && b.password.is_empty()
        && !b.addresses().iter().all(|u| url_has_password(u))
    {
        return Err(ConfigError::new(
            "broker.username",
            quote(&b.username),
            "is set without a password: Redis authenticates a user with both",
            "set broker.password (or SWITCHBOARD_BROKER__PASSWORD), or remove broker.username",
        ));
    }
    Ok(())
}

fn tls(b: &BrokerConfig) -> Check {
    let tls = b.addresses().iter().all(|u| is_tls(u));
    let which = if b.urls.is_empty() {
        "broker.url"
    } else {
        "broker.urls"
    };
    if b.tls_insecure && !tls {
        return Err(ConfigError::new(
            "broker.tls_insecure",
            "true",
            format!("{which} is redis:// (no TLS), so there is no certificate to accept"),
            "use rediss:// addresses, or remove tls_insecure",
        ));
    }
    if b.tls_ca_file.is_empty() {
        return Ok(());
    }
    let shown = quote(&b.tls_ca_file);
    if !tls {
        return Err(ConfigError::new(
            "broker.tls_ca_file",
            shown,
            format!("{which} is redis:// (no TLS), so the CA would never be used"),
            "use rediss:// addresses, or remove tls_ca_file",
        ));
    }
    if b.tls_insecure {
        return Err(ConfigError::new(
            "broker.tls_insecure",
            "true",
            "turns off the certificate check that broker.tls_ca_file is set for",
            "remove tls_insecure (keep the CA file), or remove tls_ca_file",
        ));
    }
    let problem = match std::fs::read(&b.tls_ca_file) {
        Ok(pem) if contains(&pem, b"-----BEGIN CERTIFICATE-----") => return Ok(()),
        Ok(_) => "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "the file does not exist".to_owned(),
        Err(e) => format!("cannot read the file: {e}"),
    };
    Err(ConfigError::new(
        "broker.tls_ca_file",
        shown,
        problem,
        "point it at the PEM file of the CA that signed the Redis servers' certificates, \
         readable by the user the server runs as",
    ))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn prefix(prefix: &str) -> Check {
    let ok = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !ok {
        return Err(ConfigError::new(
            "broker.prefix",
            quote(prefix),
            "must be 1-64 characters of letters, digits, '_', '-', '.' (it starts every Redis key)",
            "use e.g. switchboard or switchboard-prod",
        ));
    }
    Ok(())
}
