//! Token claims in Centrifugo's conventions, so backends that already
//! issue its tokens work unchanged.
//!
//! Connection token: `sub` (the user; may be empty for anonymous),
//! `exp`, `iat`, `jti`, `aud`, `iss` (checked by the verifier), `info`
//! (shown in presence), `channels` and the keys of `subs` (channels the
//! user may subscribe to without a subscription token), `meta` (kept on
//! the server, never shown to other clients), `expire_at` (when the
//! connection expires, instead of `exp`; 0: never).
//!
//! Subscription token: `sub` (must be the connection's user), `channel`,
//! `exp`, `info` (this subscription's info), `expire_at`.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(crate) struct ConnectClaims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    jti: String,
    #[serde(default)]
    info: Option<Value>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    subs: BTreeMap<String, Value>,
    #[serde(default)]
    meta: Option<Value>,
    #[serde(default)]
    expire_at: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct SubscriptionClaims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    info: Option<Value>,
    #[serde(default)]
    expire_at: Option<u64>,
}

/// `expire_at` overrides `exp`; `expire_at: 0` means never.
fn expiry(exp: Option<u64>, expire_at: Option<u64>) -> Option<u64> {
    match expire_at {
        Some(0) => None,
        Some(at) => Some(at),
        None => exp,
    }
}

fn json_bytes(value: Option<Value>) -> Option<Bytes> {
    value
        .filter(|v| !v.is_null())
        .map(|v| Bytes::from(v.to_string()))
}

/// Who a valid connection token (or API key) says the client is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The user id (`sub`, or an API key's name).
    pub user: String,
    /// Connection info (`info`, as JSON) that presence shows.
    pub info: Option<Bytes>,
    /// When the connection expires (Unix seconds), if ever.
    pub expires_at: Option<u64>,
    /// The token's id (`jti`), for revocation; empty if none.
    pub token_id: String,
    /// Channels the user may subscribe to without a subscription token.
    pub channels: Vec<String>,
    /// Server-side data (`meta`, as JSON), never sent to other clients.
    pub meta: Option<Bytes>,
}

impl From<ConnectClaims> for Identity {
    fn from(c: ConnectClaims) -> Self {
        let mut channels = c.channels;
        channels.extend(c.subs.into_keys());
        Identity {
            user: c.sub,
            info: json_bytes(c.info),
            expires_at: expiry(c.exp, c.expire_at),
            token_id: c.jti,
            channels,
            meta: json_bytes(c.meta),
        }
    }
}

impl Identity {
    /// An identity that is just a name (an API key's holder).
    pub fn named(user: &str) -> Self {
        Identity {
            user: user.to_owned(),
            ..Identity::default()
        }
    }

    /// Whether the token lists `channel` among those the user may join.
    pub fn grants(&self, channel: &str) -> bool {
        self.channels.iter().any(|c| c == channel)
    }
}

/// What a valid subscription token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionGrant {
    /// The user it was issued to (`sub`).
    pub user: String,
    /// The channel it is for.
    pub channel: String,
    /// Channel info (`info`, as JSON) for this subscription's presence.
    pub info: Option<Bytes>,
    /// When the subscription expires (Unix seconds), if ever.
    pub expires_at: Option<u64>,
}

impl From<SubscriptionClaims> for SubscriptionGrant {
    fn from(c: SubscriptionClaims) -> Self {
        SubscriptionGrant {
            user: c.sub,
            channel: c.channel,
            info: json_bytes(c.info),
            expires_at: expiry(c.exp, c.expire_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn identity(claims: Value) -> Identity {
        serde_json::from_value::<ConnectClaims>(claims)
            .unwrap()
            .into()
    }

    #[test]
    fn reads_centrifugo_connect_claims() {
        let id = identity(json!({
            "sub": "alice", "exp": 100, "jti": "t1", "info": {"name": "A"},
            "channels": ["news"], "subs": {"chat:1": {}}, "meta": {"plan": "pro"},
            "aud": "x", "iss": "y", "iat": 1
        }));
        assert_eq!(id.user, "alice");
        assert_eq!(id.expires_at, Some(100));
        assert_eq!(id.token_id, "t1");
        assert_eq!(id.info.as_deref(), Some(&br#"{"name":"A"}"#[..]));
        assert!(id.grants("news") && id.grants("chat:1") && !id.grants("chat:2"));
        assert_eq!(id.meta.as_deref(), Some(&br#"{"plan":"pro"}"#[..]));
    }

    #[test]
    fn expire_at_overrides_exp() {
        assert_eq!(
            identity(json!({"exp": 100, "expire_at": 200})).expires_at,
            Some(200)
        );
        assert_eq!(
            identity(json!({"exp": 100, "expire_at": 0})).expires_at,
            None
        );
        assert_eq!(identity(json!({})).expires_at, None);
    }

    #[test]
    fn reads_subscription_claims() {
        let claims = json!({"sub": "bob", "channel": "private:x", "exp": 5, "info": null});
        let grant: SubscriptionGrant = serde_json::from_value::<SubscriptionClaims>(claims)
            .unwrap()
            .into();
        assert_eq!(grant.user, "bob");
        assert_eq!(grant.channel, "private:x");
        assert_eq!(grant.info, None);
        assert_eq!(grant.expires_at, Some(5));
    }
}
