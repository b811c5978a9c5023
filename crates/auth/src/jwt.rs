//! JWT verification with the keys of `[auth.jwt]`.
//!
//! A key accepts only its own family's algorithms (an HMAC secret HS*, an
//! RSA key RS*/PS*, an EC key ES256/ES384, an Ed25519 key EdDSA), and the
//! key is chosen by the token's `alg` (and `kid`, for JWKS keys), so an HS
//! token is never checked with a public key as its secret and `alg: none`
//! matches nothing.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use switchboard_config::Config;

use crate::claims::{ConnectClaims, SubscriptionClaims};
use crate::jwks::Jwks;
use crate::{Identity, SubscriptionGrant};

/// Why a token was refused. The reason is short and safe to log or send:
/// it never contains the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// `exp` has passed (beyond the leeway): the client should get a new one.
    #[error("token expired")]
    Expired,
    /// Anything else: malformed, bad signature, unknown key, wrong
    /// algorithm, audience or issuer, missing `exp`.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
}

/// A key or JWKS from the config could not be used; names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct SetupError {
    /// The config key, e.g. `auth.jwt.public_key_file`.
    pub key: &'static str,
    /// What is wrong and how to fix it.
    pub problem: String,
}

/// A verification key and the algorithms it may verify.
#[derive(Clone)]
pub(crate) struct PublicKey {
    pub(crate) key: DecodingKey,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) kid: Option<String>,
}

impl PublicKey {
    /// A key of an asymmetric family, accepting all that family's algorithms.
    pub(crate) fn new(key: DecodingKey, kid: Option<String>) -> Option<Self> {
        match key.family() {
            AlgorithmFamily::Hmac => None,
            family => Some(PublicKey {
                algorithms: family.algorithms().to_vec(),
                key,
                kid,
            }),
        }
    }
}

/// The claim rules every token is checked against.
#[derive(Clone)]
struct Rules {
    leeway: u64,
    require_exp: bool,
    audience: String,
    issuer: String,
}

/// Verifies tokens with the configured keys.
pub struct Verifier {
    hmac: Option<DecodingKey>,
    public: Vec<PublicKey>,
    jwks: Option<Arc<Jwks>>,
    rules: Rules,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("hmac", &self.hmac.is_some())
            .field("public_keys", &self.public.len())
            .field("jwks", &self.jwks.is_some())
            .finish()
    }
}

fn read_file(key: &'static str, path: &std::path::Path) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|e| SetupError {
        key,
        problem: format!("cannot read {}: {e}", path.display()),
    })
}

/// A PEM public key of any supported family.
fn parse_pem(key: &'static str, pem: &[u8]) -> Result<PublicKey, SetupError> {
    let parsed = DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem));
    parsed
        .ok()
        .and_then(|k| PublicKey::new(k, None))
        .ok_or(SetupError {
            key,
            problem: "is not an RSA, EC (P-256/P-384) or Ed25519 public key in PEM".into(),
        })
}

impl Verifier {
    /// Builds the verifier from `[auth.jwt]` (and the older
    /// `channels.token_hmac_secret`), reading key files now. A JWKS URL is
    /// fetched by [`Verifier::start`].
    pub fn from_config(config: &Config) -> Result<Self, SetupError> {
        let jwt = &config.auth.jwt;
        let secret = config.token_hmac_secret();
        let hmac = (!secret.is_empty()).then(|| DecodingKey::from_secret(secret.as_bytes()));
        let mut public = Vec::new();
        if !jwt.public_key_pem.is_empty() {
            public.push(parse_pem(
                "auth.jwt.public_key_pem",
                jwt.public_key_pem.as_bytes(),
            )?);
        }
        if let Some(path) = &jwt.public_key_file {
            let key = "auth.jwt.public_key_file";
            public.push(parse_pem(key, &read_file(key, path)?)?);
        }
        let jwks = if let Some(path) = &jwt.jwks_file {
            let key = "auth.jwt.jwks_file";
            let keys = Jwks::parse(&read_file(key, path)?)
                .map_err(|problem| SetupError { key, problem })?;
            Some(Arc::new(Jwks::fixed(keys)))
        } else if !jwt.jwks_url.is_empty() {
            let jwks = Jwks::remote(&jwt.jwks_url, jwt.jwks_fetch_timeout, jwt.jwks_refresh)
                .map_err(|problem| SetupError {
                    key: "auth.jwt.jwks_url",
                    problem,
                })?;
            Some(Arc::new(jwks))
        } else {
            None
        };
        Ok(Verifier {
            hmac,
            public,
            jwks,
            rules: Rules {
                leeway: jwt.leeway.as_secs(),
                require_exp: jwt.require_exp,
                audience: jwt.audience.clone(),
                issuer: jwt.issuer.clone(),
            },
        })
    }

    /// Fetches a remote JWKS and keeps it fresh until `stop` is cancelled.
    /// Does nothing without a JWKS URL.
    pub async fn start(&self, stop: tokio_util::sync::CancellationToken) {
        if let Some(jwks) = &self.jwks {
            jwks.clone().keep_fresh(stop).await;
        }
    }

    /// Whether any key is configured.
    pub fn has_keys(&self) -> bool {
        self.hmac.is_some() || !self.public.is_empty() || self.jwks.is_some()
    }

    /// Verifies a connection token.
    pub async fn connect_token(&self, token: &str) -> Result<Identity, TokenError> {
        self.verify::<ConnectClaims>(token)
            .await
            .map(Identity::from)
    }

    /// Verifies a subscription token.
    pub async fn subscription_token(&self, token: &str) -> Result<SubscriptionGrant, TokenError> {
        self.verify::<SubscriptionClaims>(token)
            .await
            .map(SubscriptionGrant::from)
    }

    fn validation(&self, algorithms: &[Algorithm]) -> Validation {
        let mut v = Validation::new(Algorithm::HS256);
        v.algorithms = algorithms.to_vec();
        v.leeway = self.rules.leeway;
        v.validate_nbf = true;
        v.required_spec_claims.clear();
        if self.rules.require_exp {
            v.required_spec_claims.insert("exp".into());
        }
        if self.rules.audience.is_empty() {
            v.validate_aud = false;
        } else {
            v.set_audience(&[&self.rules.audience]);
            v.required_spec_claims.insert("aud".into());
        }
        if !self.rules.issuer.is_empty() {
            v.set_issuer(&[&self.rules.issuer]);
            v.required_spec_claims.insert("iss".into());
        }
        v
    }

    async fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid("malformed"))?;
        let alg = header.alg;
        if AlgorithmFamily::Hmac.algorithms().contains(&alg) {
            let key = self
                .hmac
                .as_ref()
                .ok_or(TokenError::Invalid("algorithm not allowed"))?;
            return self.try_key::<C>(token, key, AlgorithmFamily::Hmac.algorithms());
        }
        let mut candidates: Vec<PublicKey> = self
            .public
            .iter()
            .filter(|k| k.algorithms.contains(&alg))
            .cloned()
            .collect();
        if let Some(jwks) = &self.jwks {
            candidates.extend(jwks.keys_for(header.kid.as_deref(), alg).await);
        }
        if candidates.is_empty() {
            return Err(TokenError::Invalid(if header.kid.is_some() {
                "unknown key"
            } else {
                "algorithm not allowed"
            }));
        }
        let mut last = TokenError::Invalid("bad signature");
        for candidate in &candidates {
            match self.try_key::<C>(token, &candidate.key, &candidate.algorithms) {
                Ok(claims) => return Ok(claims),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    fn try_key<C: DeserializeOwned>(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithms: &[Algorithm],
    ) -> Result<C, TokenError> {
        decode::<C>(token, key, &self.validation(algorithms))
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm => TokenError::Invalid("algorithm not allowed"),
                ErrorKind::MissingRequiredClaim(claim) if claim == "exp" => {
                    TokenError::Invalid("missing exp")
                }
                ErrorKind::MissingRequiredClaim(_) => TokenError::Invalid("missing claim"),
                ErrorKind::InvalidAudience => TokenError::Invalid("wrong audience"),
                ErrorKind::InvalidIssuer => TokenError::Invalid("wrong issuer"),
                ErrorKind::ImmatureSignature => TokenError::Invalid("not yet valid"),
                _ => TokenError::Invalid("malformed"),
            })
    }
}
