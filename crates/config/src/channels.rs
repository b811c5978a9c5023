//! `[channels]`: the Centrifugo-compatible channels mode (endpoints with
//! `mode = "channels"`).
//!
//! A channel name may start with a namespace prefix, `ns:rest`; the options
//! of namespace `ns` (`[[channels.namespaces]]`) then apply to it. A channel
//! without `:` takes `[channels.default]`. Only the first `:` separates the
//! namespace, so `chat:room:1` belongs to `chat`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::access::Access;

/// `[channels]`: limits, the protocol-level ping, and per-namespace options
/// of the channels mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// Most channels one connection may be subscribed to; a subscribe beyond
    /// it gets error 106 "limit exceeded". Default 128. At least 1. Bounds
    /// the memory and fan-out one client can cause.
    pub max_channels_per_connection: usize,
    /// Longest channel name, in bytes; a longer name gets error 107 "bad
    /// request". Default 255. Range 1..=1024, because names are keys of
    /// in-memory maps and are repeated in every publication.
    pub channel_max_length: usize,
    /// Most publications one client `history` call returns; a larger
    /// `limit` (or "everything", a negative one) is cut to it, oldest
    /// first as asked. Default 300 (Centrifugo's
    /// `client_history_max_publication_limit`). At least 1. The server API
    /// is not limited.
    pub history_max_limit: usize,
    /// Time between the protocol-level pings the server sends (Centrifugo
    /// sends an empty JSON object, `{}`) (TOML `ping_interval_ms`,
    /// milliseconds). Default 25 s. At least 1 s, so pings stay a small part
    /// of the traffic.
    #[serde(rename = "ping_interval_ms", with = "crate::duration::millis")]
    pub ping_interval: Duration,
    /// How long a client may take to answer a ping before it is disconnected
    /// with 3012 "no pong" (TOML `pong_timeout_ms`, milliseconds). Default
    /// 8 s. At least 100 ms and less than `ping_interval_ms`, so a late pong
    /// cannot be mistaken for the answer to the next ping.
    #[serde(rename = "pong_timeout_ms", with = "crate::duration::millis")]
    pub pong_timeout: Duration,
    /// `user_offline` is emitted only when a user's last connection closed
    /// and none opened within this time (TOML `user_offline_grace_ms`,
    /// milliseconds; 0 = at once). Default 5 s, so a page reload is not an
    /// offline/online pair.
    #[serde(rename = "user_offline_grace_ms", with = "crate::duration::millis")]
    pub user_offline_grace: Duration,
    /// Accept connections without a token, as anonymous users. Default true.
    pub allow_anonymous: bool,
    /// Secret for HMAC-signed (HS256/HS384/HS512) connection tokens in
    /// Centrifugo's JWT format: `sub` becomes the user id, `info` the
    /// connection info shown in presence, `exp` (optional) its expiry.
    /// Default empty: a connect with a token is refused with 101. At least
    /// 32 bytes, the size of the HS256 digest, so the key is not the weak
    /// link.
    pub token_hmac_secret: String,
    /// `[channels.default]`: options of channels without a namespace prefix.
    pub default: NamespaceOptions,
    /// `[[channels.namespaces]]`: named namespaces; a channel `ns:rest`
    /// takes the options of the namespace named `ns`. Default none. Names
    /// are 1–64 characters of `A-Za-z0-9_-` and unique.
    pub namespaces: Vec<Namespace>,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        ChannelsConfig {
            max_channels_per_connection: 128,
            channel_max_length: 255,
            history_max_limit: 300,
            ping_interval: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(8),
            user_offline_grace: Duration::from_secs(5),
            allow_anonymous: true,
            token_hmac_secret: String::new(),
            default: NamespaceOptions::default(),
            namespaces: Vec::new(),
        }
    }
}

impl ChannelsConfig {
    /// The options that apply to `channel`: those of the namespace named by
    /// the part before the first `:` (`chat:room1` → namespace `chat`), or
    /// `[channels.default]` when the name has no `:`.
    ///
    /// `None` means the channel names a namespace that does not exist; the
    /// caller answers error 102 "unknown channel".
    ///
    /// ```
    /// use switchboard_config::{ChannelsConfig, Namespace, NamespaceOptions};
    ///
    /// let mut channels = ChannelsConfig::default();
    /// channels.namespaces.push(Namespace {
    ///     name: "chat".into(),
    ///     options: NamespaceOptions { presence: true, ..NamespaceOptions::default() },
    /// });
    /// assert!(channels.namespace_options("chat:room1").unwrap().presence);
    /// assert_eq!(channels.namespace_options("news"), Some(&channels.default));
    /// assert_eq!(channels.namespace_options("nope:x"), None);
    /// ```
    pub fn namespace_options(&self, channel: &str) -> Option<&NamespaceOptions> {
        match channel.split_once(':') {
            None => Some(&self.default),
            Some((name, _)) => self
                .namespaces
                .iter()
                .find(|ns| ns.name == name)
                .map(|ns| &ns.options),
        }
    }
}

/// `[[channels.namespaces]]`: a named namespace.
///
/// In TOML it is one flat table: `name` next to the [`NamespaceOptions`]
/// keys. (serde's `flatten` cannot be combined with `deny_unknown_fields`,
/// so a private flat twin of the struct, generated from the same field
/// list, does the (de)serialization; unknown keys are still errors.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "NamespaceTable", into = "NamespaceTable")]
pub struct Namespace {
    /// The prefix before `:` in channel names of this namespace. Required
    /// in a file. 1–64 characters of `A-Za-z0-9_-`, unique across
    /// namespaces.
    pub name: String,
    /// Its options, written next to `name` in the same table.
    pub options: NamespaceOptions,
}

/// Declares [`NamespaceOptions`] and its flat twin `NamespaceTable` (with
/// `name`) from one list of fields, so the two cannot drift apart.
macro_rules! namespace_options {
    ($( $(#[$attr:meta])* $field:ident: $ty:ty = $default:expr, )*) => {
        /// Options of a channel namespace: `[channels.default]` and each
        /// `[[channels.namespaces]]` table.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct NamespaceOptions {
            $( $(#[$attr])* pub $field: $ty, )*
        }

        impl Default for NamespaceOptions {
            fn default() -> Self {
                NamespaceOptions { $( $field: $default, )* }
            }
        }

        /// A `[[channels.namespaces]]` table as written: `name` and the
        /// options side by side.
        #[derive(Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        struct NamespaceTable {
            name: String,
            $( $(#[$attr])* $field: $ty, )*
        }

        impl Default for NamespaceTable {
            fn default() -> Self {
                Namespace::default().into()
            }
        }

        impl From<NamespaceTable> for Namespace {
            fn from(t: NamespaceTable) -> Self {
                Namespace {
                    name: t.name,
                    options: NamespaceOptions { $( $field: t.$field, )* },
                }
            }
        }

        impl From<Namespace> for NamespaceTable {
            fn from(ns: Namespace) -> Self {
                NamespaceTable {
                    name: ns.name,
                    $( $field: ns.options.$field, )*
                }
            }
        }
    };
}

namespace_options! {
    /// Publications kept per channel for history and recovery. Default 0
    /// (no history). At most 1 000 000. Must be above 0 exactly when
    /// `history_ttl_ms` is: a stream bounded in size but not in time would
    /// stay in memory forever after its channel went quiet.
    history_size: usize = 0,
    /// How long each publication is kept in history after it was published
    /// (TOML `history_ttl_ms`, milliseconds). Default 0 (no history). Must
    /// be above 0 exactly when `history_size` is.
    #[serde(rename = "history_ttl_ms", with = "crate::duration::millis")]
    history_ttl: Duration = Duration::ZERO,
    /// Let clients recover publications missed while disconnected, from the
    /// history. Default false. Requires `history_size` above 0.
    recovery: bool = false,
    /// Track who is subscribed, so presence can be queried. Default false.
    presence: bool = false,
    /// Send join and leave messages to subscribers when someone subscribes
    /// or unsubscribes. Default false. Independent of `presence`, as in
    /// Centrifugo.
    join_leave: bool = false,
    /// Which clients may publish: `true` (anyone), `false` (nobody),
    /// `"authenticated"` or `"token"` (see [`Access`]). Default false: only
    /// the server API publishes (it always may).
    allow_publish: Access = Access::Nobody,
    /// Which clients may subscribe. Default true (anyone). A valid
    /// subscription token for the channel always lets its holder in,
    /// unless this is false.
    allow_subscribe: Access = Access::Anyone,
    /// Which clients may read the history (when `history_size` is above 0).
    /// Default true (anyone).
    allow_history: Access = Access::Anyone,
    /// Which clients may read presence (when `presence` is true). Default
    /// true (anyone).
    allow_presence: Access = Access::Anyone,
    /// A publishing client that is subscribed receives its own
    /// publication. Default true.
    echo_to_publisher: bool = true,
    /// On subscribe, deliver the newest publication at once (the
    /// stock-ticker pattern). Default false. Requires `history_size` of at
    /// least 1, where that publication is kept.
    last_value: bool = false,
    /// Most subscribers of one channel; a subscribe beyond it gets error
    /// 106 "limit exceeded". Default 0 = unlimited.
    max_subscribers: usize = 0,
    /// Publications to a user-limited channel (`name#user`) of this
    /// namespace made while that user has no connection are kept, at most
    /// this many per user, and delivered in order on the user's next
    /// connect. Default 0 = off. At most 10 000. Must be above 0 exactly
    /// when `offline_queue_ttl_ms` is.
    offline_queue_size: usize = 0,
    /// How long a queued offline publication is kept (TOML
    /// `offline_queue_ttl_ms`, milliseconds). Default 0 (off). Must be above
    /// 0 exactly when `offline_queue_size` is, so a queue of a user who
    /// never returns does not stay forever.
    #[serde(rename = "offline_queue_ttl_ms", with = "crate::duration::millis")]
    offline_queue_ttl: Duration = Duration::ZERO,
    /// Ask the backend (`proxy.subscribe_url`) whether a client may
    /// subscribe, after the checks above passed. Default false.
    proxy_subscribe: bool = false,
    /// Ask the backend (`proxy.publish_url`) whether a client may publish
    /// (and with what data), after the checks above passed. Default false.
    proxy_publish: bool = false,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_namespaces(names: &[&str]) -> ChannelsConfig {
        ChannelsConfig {
            namespaces: names
                .iter()
                .enumerate()
                .map(|(i, name)| Namespace {
                    name: (*name).to_string(),
                    options: NamespaceOptions {
                        max_subscribers: i + 1,
                        ..NamespaceOptions::default()
                    },
                })
                .collect(),
            ..ChannelsConfig::default()
        }
    }

    #[test]
    fn a_prefix_selects_its_namespace() {
        let c = with_namespaces(&["chat", "prices"]);
        let subs = |channel: &str| c.namespace_options(channel).map(|o| o.max_subscribers);
        assert_eq!(subs("chat:room1"), Some(1));
        assert_eq!(subs("prices:EURUSD"), Some(2));
        assert_eq!(subs("chat:"), Some(1));
        // Only the first `:` separates the namespace.
        assert_eq!(subs("chat:room:1"), Some(1));
        assert_eq!(subs("prices:chat:x"), Some(2));
    }

    #[test]
    fn no_prefix_means_the_default_options() {
        let c = with_namespaces(&["chat"]);
        for channel in ["news", "", "notifications#alice", "chat"] {
            assert_eq!(c.namespace_options(channel), Some(&c.default), "{channel}");
        }
    }

    #[test]
    fn an_unknown_prefix_is_none() {
        let c = with_namespaces(&["chat"]);
        for channel in ["nope:x", ":x", "Chat:x", "cha:x", "chat2:x", "#chat:x"] {
            assert_eq!(c.namespace_options(channel), None, "{channel}");
        }
        assert_eq!(ChannelsConfig::default().namespace_options("chat:x"), None);
    }

    #[test]
    fn user_limited_channels_use_their_prefix() {
        let c = with_namespaces(&["personal"]);
        assert_eq!(
            c.namespace_options("personal:notifications#alice")
                .map(|o| o.max_subscribers),
            Some(1)
        );
    }
}
