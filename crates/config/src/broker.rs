//! `[broker]`: where channels' publications, history and presence live.

mod check;

use serde::{Deserialize, Serialize};

use crate::load::REDACTED;

/// Which broker serves channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// In this process: one node, history lost at restart.
    #[default]
    Memory,
    /// Redis: many nodes share publications, history and presence.
    Redis,
}

/// `[broker]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// `memory` (default) or `redis`.
    pub kind: BrokerKind,
    /// The Redis server, `redis://[[user]:password@]host:port[/db]`, or
    /// `rediss://…` for TLS. Default `redis://127.0.0.1:6379`. Used when
    /// `kind = "redis"` and `urls` is empty; a password in it is shown as
    /// `<redacted>` by `check-config`.
    pub url: String,
    /// Addresses used instead of `url` when not empty: the seed nodes of a
    /// Redis Cluster (`cluster = true`), or one server. Default empty.
    pub urls: Vec<String>,
    /// The addresses are nodes of a Redis Cluster. Default `false`.
    pub cluster: bool,
    /// Redis 6 ACL user name for every address; empty (default) keeps the
    /// one in the URL, if any.
    pub username: String,
    /// Password for every address; empty (default) keeps the one in the
    /// URL, if any. Shown as `<redacted>` by `check-config`.
    pub password: String,
    /// PEM file of the CA that signed the servers' certificates (with
    /// `rediss://`): when set, only it is trusted, not the system's roots.
    /// Empty (default): the system's roots.
    pub tls_ca_file: String,
    /// With `rediss://`: accept any server certificate. For tests only: it
    /// gives up the protection TLS is for. Default `false`.
    pub tls_insecure: bool,
    /// Prefix of every Redis key and pub/sub channel, so several
    /// deployments can share one Redis. Default `switchboard`; letters,
    /// digits, `_`, `-`, `.`.
    pub prefix: String,
    /// Start even when Redis cannot be reached: the node serves raw
    /// endpoints, `/readyz` answers 503 and channel operations fail with a
    /// temporary error until Redis answers. Default `false` (the start
    /// fails with an error naming the address).
    pub start_degraded: bool,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            kind: BrokerKind::Memory,
            url: "redis://127.0.0.1:6379".to_owned(),
            urls: Vec::new(),
            cluster: false,
            username: String::new(),
            password: String::new(),
            tls_ca_file: String::new(),
            tls_insecure: false,
            prefix: "switchboard".to_owned(),
            start_degraded: false,
        }
    }
}

impl BrokerConfig {
    /// The URL with any password replaced, for display.
    pub fn url_redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// The addresses in use (`urls` if not empty, else `url`), passwords
    /// replaced, for messages.
    pub fn addresses_redacted(&self) -> String {
        self.addresses()
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The addresses in use: `urls` if not empty, else `url`.
    pub fn addresses(&self) -> &[String] {
        if self.urls.is_empty() {
            std::slice::from_ref(&self.url)
        } else {
            &self.urls
        }
    }

    /// This section with every secret replaced by [`REDACTED`], as
    /// `check-config` shows it.
    pub fn redacted(&self) -> BrokerConfig {
        BrokerConfig {
            url: self.url_redacted(),
            urls: self.urls.iter().map(|u| redact_url(u)).collect(),
            password: if self.password.is_empty() {
                String::new()
            } else {
                REDACTED.to_owned()
            },
            ..self.clone()
        }
    }

    /// Checks the rules the types do not enforce.
    pub(crate) fn validate(&self) -> Result<(), crate::ConfigError> {
        check::validate(self)
    }
}

/// `url` with the user-info part (user and password) replaced.
pub(crate) fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{REDACTED}@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
