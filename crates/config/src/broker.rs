//! `[broker]`: where channels' publications, history and presence live.

use serde::{Deserialize, Serialize};

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
    /// The Redis server, `redis://[:password@]host:port[/db]`. Default
    /// `redis://127.0.0.1:6379`. Used when `kind = "redis"`; a password in it
    /// is shown as `<redacted>` by `check-config`.
    pub url: String,
    /// Prefix of every Redis key and pub/sub channel, so several
    /// deployments can share one Redis. Default `switchboard`; letters,
    /// digits, `_`, `-`, `.`.
    pub prefix: String,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            kind: BrokerKind::Memory,
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "switchboard".to_owned(),
        }
    }
}

impl BrokerConfig {
    /// The URL with any password replaced, for display.
    pub fn url_redacted(&self) -> String {
        match self.url.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{}@{host}", crate::load::REDACTED),
                None => self.url.clone(),
            },
            None => self.url.clone(),
        }
    }
}
