//! `[auth]`, `[endpoints.auth]`, `[[api.keys]]` and `[endpoints.limits]`:
//! who may connect, with which credentials, and how much a client may do.

mod check;

pub(crate) use check::check_hmac_secret;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::REDACTED;

/// `[auth]`: how tokens are verified, for every endpoint and for the
/// channels protocol's connect and subscription tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `[auth.jwt]`: the keys and the claims checked.
    pub jwt: JwtConfig,
    /// After a token's `exp`, how long the connection stays open waiting
    /// for a refresh with a new token before it is closed (TOML
    /// `refresh_window_ms`, milliseconds). Default 25 s, Centrifugo's
    /// `client_expired_close_delay`: long enough for an SDK to fetch a token.
    #[serde(rename = "refresh_window_ms", with = "crate::duration::millis")]
    pub refresh_window: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt: JwtConfig::default(),
            refresh_window: Duration::from_secs(25),
        }
    }
}

/// `[auth.jwt]`: token verification keys and rules.
///
/// The key type decides which algorithms are accepted: an HMAC secret
/// HS256/384/512, an RSA key RS256/384/512 (and PS*), an EC key ES256 or
/// ES384 by its curve, an Ed25519 key EdDSA. A token whose `alg` does not
/// belong to a configured key is refused, so an HS token can never be
/// checked with a public key as its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// HMAC secret (HS256/384/512). Default empty: HMAC tokens refused. At
    /// least 32 bytes. `channels.token_hmac_secret` is its older name and
    /// is used when this is empty. Shown as `<redacted>` by `check-config`.
    pub hmac_secret: String,
    /// A public key in PEM (RSA, EC P-256/P-384, or Ed25519), inline.
    /// Default empty.
    pub public_key_pem: String,
    /// A file holding a PEM public key, as `public_key_pem`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_file: Option<PathBuf>,
    /// A JWKS document (`{"keys": [...]}`) fetched from this `http(s)` URL,
    /// cached and refreshed every `jwks_refresh_ms`, and at once (at most
    /// every 10 s) when a token names an unknown `kid`. Default empty.
    pub jwks_url: String,
    /// A JWKS document read from this file at start. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_file: Option<PathBuf>,
    /// How often the JWKS URL is fetched again (TOML `jwks_refresh_ms`).
    /// Default 5 minutes. At least 1 s.
    #[serde(rename = "jwks_refresh_ms", with = "crate::duration::millis")]
    pub jwks_refresh: Duration,
    /// Longest a JWKS fetch may take (TOML `jwks_fetch_timeout_ms`).
    /// Default 5 s. From 100 ms to 60 s.
    #[serde(rename = "jwks_fetch_timeout_ms", with = "crate::duration::millis")]
    pub jwks_fetch_timeout: Duration,
    /// When set, a token's `aud` must contain it. Default empty: not checked.
    pub audience: String,
    /// When set, a token's `iss` must equal it. Default empty: not checked.
    pub issuer: String,
    /// Clock skew allowed on `exp` and `nbf` (TOML `leeway_ms`, rounded
    /// down to whole seconds as JWT times are). Default 5 s. At most 5 min.
    #[serde(rename = "leeway_ms", with = "crate::duration::millis")]
    pub leeway: Duration,
    /// Refuse tokens without `exp`. Default true: a token that never
    /// expires cannot be taken back except by revocation. Centrifugo allows
    /// them; set false for its tokens that have none.
    pub require_exp: bool,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            hmac_secret: String::new(),
            public_key_pem: String::new(),
            public_key_file: None,
            jwks_url: String::new(),
            jwks_file: None,
            jwks_refresh: Duration::from_secs(300),
            jwks_fetch_timeout: Duration::from_secs(5),
            audience: String::new(),
            issuer: String::new(),
            leeway: Duration::from_secs(5),
            require_exp: true,
        }
    }
}

impl JwtConfig {
    /// Whether any verification key is configured.
    pub fn has_keys(&self) -> bool {
        !self.hmac_secret.is_empty()
            || !self.public_key_pem.is_empty()
            || self.public_key_file.is_some()
            || !self.jwks_url.is_empty()
            || self.jwks_file.is_some()
    }
}

/// How an endpoint authenticates its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Anyone may connect (a channels connect token is still checked if
    /// one is sent).
    #[default]
    None,
    /// A JWT verified with `[auth.jwt]`; `sub` is the user.
    Jwt,
    /// One of the endpoint's `api_keys`; its `name` is the user.
    ApiKey,
    /// The backend at `proxy.connect_url` decides, and names the user.
    Proxy,
}

/// Where a client's credential is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Header,
    /// A `Sec-WebSocket-Protocol` entry `bearer.<token>` (browsers cannot
    /// set headers but can offer subprotocols). It is never echoed back.
    Subprotocol,
    /// The query parameter `query_param` (redacted wherever the URL is
    /// shown).
    Query,
    /// The first message: the channels protocol's `connect` command, or on
    /// raw endpoints `{"type":"connect","token":"…"}`, within
    /// `connect_timeout_ms`.
    Connect,
}

/// `[endpoints.auth]`: an endpoint's authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointAuth {
    /// `none` (default), `jwt` or `api_key`.
    pub mode: AuthMode,
    /// Where the credential is taken from, tried in the order header,
    /// subprotocol, query, connect; a source not listed is ignored. Default
    /// all four. Not empty when `mode` is not `none`.
    pub sources: Vec<TokenSource>,
    /// The query parameter of the `query` source. Default `token`.
    pub query_param: String,
    /// With the `connect` source: how long a client that sent no credential
    /// in the handshake has to send it (TOML `connect_timeout_ms`); then
    /// it is closed (1008, or 3501 on channels endpoints). Default 10 s.
    #[serde(rename = "connect_timeout_ms", with = "crate::duration::millis")]
    pub connect_timeout: Duration,
    /// `[[endpoints.auth.api_keys]]`: the keys `mode = "api_key"` accepts.
    pub api_keys: Vec<ClientKey>,
}

impl Default for EndpointAuth {
    fn default() -> Self {
        EndpointAuth {
            mode: AuthMode::None,
            sources: vec![
                TokenSource::Header,
                TokenSource::Subprotocol,
                TokenSource::Query,
                TokenSource::Connect,
            ],
            query_param: "token".to_string(),
            connect_timeout: Duration::from_secs(10),
            api_keys: Vec::new(),
        }
    }
}

impl EndpointAuth {
    /// Whether credentials are looked for in `source`.
    pub fn accepts(&self, source: TokenSource) -> bool {
        self.mode != AuthMode::None && self.sources.contains(&source)
    }
}

/// A named key: one of `key` (in clear) or `key_sha256` (its SHA-256, in
/// hex) is set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientKey {
    /// Who holds it: the user id of the connection, the caller in logs.
    /// Required; 1–64 characters of `A-Za-z0-9_.@-`.
    pub name: String,
    /// The key in clear. Shown as `<redacted>` by `check-config`.
    pub key: String,
    /// The key's SHA-256 as 64 hex digits (`printf %s KEY | sha256sum`), so
    /// the config file does not hold the key itself.
    pub key_sha256: String,
}

/// What a server API key may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    /// Read-only methods: `info`, `channels`, `presence`,
    /// `presence_stats`, `history`, `connections`, `offline_queue`.
    Read,
    /// Read, plus `publish`, `broadcast` and `send`.
    Publish,
    /// Everything, including `disconnect`, `subscribe`, `unsubscribe`,
    /// `refresh` and `history_remove`.
    #[default]
    Admin,
}

/// `[[api.keys]]`: a server API key with a scope.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKey {
    /// Who holds it, as in [`ClientKey::name`].
    pub name: String,
    /// The key in clear. Shown as `<redacted>` by `check-config`.
    pub key: String,
    /// The key's SHA-256 in hex, instead of `key`.
    pub key_sha256: String,
    /// `read`, `publish` or `admin` (default).
    pub scope: ApiScope,
}

/// `[endpoints.limits]`: abuse limits of one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointLimits {
    /// Most open connections from one client address; more are refused
    /// with 429 before the upgrade. Default 0 = unlimited.
    pub connections_per_ip: usize,
    /// Messages per second a connection may send, on average (a token
    /// bucket). Default 0 = unlimited.
    pub messages_per_second: f64,
    /// Messages a connection may send at once above the rate. Default 50.
    pub message_burst: u32,
    /// Messages per second all connections of one user may send together.
    /// Default 0 = unlimited.
    pub user_messages_per_second: f64,
    /// Messages over the limit that are answered with an error (raw: a
    /// `rate_limited` error message; channels: error 111) before the
    /// connection is closed with 1008. Default 20.
    pub excess_before_close: u32,
}

impl Default for EndpointLimits {
    fn default() -> Self {
        EndpointLimits {
            connections_per_ip: 0,
            messages_per_second: 0.0,
            message_burst: 50,
            user_messages_per_second: 0.0,
            excess_before_close: 20,
        }
    }
}

impl AuthConfig {
    /// A copy with secrets replaced by [`REDACTED`], for `check-config`.
    pub(crate) fn redacted(&self) -> Self {
        let mut shown = self.clone();
        redact(&mut shown.jwt.hmac_secret);
        shown
    }
}

/// Replaces a non-empty secret with [`REDACTED`].
pub(crate) fn redact(secret: &mut String) {
    if !secret.is_empty() {
        *secret = REDACTED.to_string();
    }
}
