//! `[proxy]`: the backend that decides who may connect, subscribe and
//! publish, and that answers RPC calls — in the request and answer shapes of
//! Centrifugo's HTTP proxy, so backends written for it work unchanged.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::model::Config;
use crate::path::quote;
use crate::AuthMode;

/// What happens when the backend cannot be asked (down, timed out, 5xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Refuse (fail closed).
    #[default]
    Deny,
    /// Allow, as an anonymous connection or with the request unchanged (fail open).
    Allow,
}

/// `[proxy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Asked on connect by endpoints with `auth.mode = "proxy"`.
    pub connect_url: String,
    /// Asked on subscribe in namespaces with `proxy_subscribe`.
    pub subscribe_url: String,
    /// Asked on publish in namespaces with `proxy_publish`.
    pub publish_url: String,
    /// Answers the channels protocol's `rpc` calls.
    pub rpc_url: String,
    /// Longest a backend call may take. Default 5 s.
    #[serde(rename = "timeout_ms", with = "crate::duration::millis")]
    pub timeout: Duration,
    /// How long a positive answer is reused for the same request. Default 0 (never).
    #[serde(rename = "cache_ttl_ms", with = "crate::duration::millis")]
    pub cache_ttl: Duration,
    /// When the backend cannot be asked: `deny` (default) or `allow`.
    pub on_error: OnError,
    /// Signs requests like the webhooks do (`X-Switchboard-Signature`).
    pub secret: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            connect_url: String::new(),
            subscribe_url: String::new(),
            publish_url: String::new(),
            rpc_url: String::new(),
            timeout: Duration::from_secs(5),
            cache_ttl: Duration::ZERO,
            on_error: OnError::Deny,
            secret: String::new(),
            headers: BTreeMap::new(),
        }
    }
}

type Check = Result<(), ConfigError>;

impl Config {
    pub(crate) fn validate_proxy(&self) -> Check {
        let p = &self.proxy;
        let urls = [
            ("connect_url", &p.connect_url),
            ("subscribe_url", &p.subscribe_url),
            ("publish_url", &p.publish_url),
            ("rpc_url", &p.rpc_url),
        ];
        for (key, url) in urls {
            let ok = url.is_empty() || url.starts_with("http://") || url.starts_with("https://");
            if !ok {
                return Err(ConfigError::new(
                    format!("proxy.{key}"),
                    quote(url),
                    "not an http:// or https:// URL",
                    "set it to e.g. \"http://127.0.0.1:3000/switchboard/connect\"",
                ));
            }
        }
        if p.timeout < Duration::from_millis(10) || p.timeout > Duration::from_secs(60) {
            return Err(ConfigError::new(
                "proxy.timeout_ms",
                p.timeout.as_millis().to_string(),
                "must be between 10 and 60000: clients wait for the backend's answer",
                "set it to e.g. 5000",
            ));
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            if e.auth.mode == AuthMode::Proxy && p.connect_url.is_empty() {
                return Err(ConfigError::new(
                    format!("endpoints[{i}].auth.mode"),
                    "\"proxy\"",
                    "proxy.connect_url is not set, so there is no backend to ask",
                    "set proxy.connect_url, or choose another mode",
                ));
            }
        }
        let options = std::iter::once(("channels.default".to_owned(), &self.channels.default))
            .chain(
                self.channels
                    .namespaces
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (format!("channels.namespaces[{i}]"), &n.options)),
            );
        for (at, o) in options {
            if o.proxy_subscribe && p.subscribe_url.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.proxy_subscribe"),
                    "true",
                    "proxy.subscribe_url is not set, so there is no backend to ask",
                    "set proxy.subscribe_url, or proxy_subscribe = false",
                ));
            }
            if o.proxy_publish && p.publish_url.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.proxy_publish"),
                    "true",
                    "proxy.publish_url is not set, so there is no backend to ask",
                    "set proxy.publish_url, or proxy_publish = false",
                ));
            }
        }
        Ok(())
    }
}
