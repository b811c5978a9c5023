//! JSON Web Key Sets: a file read at start, or a URL fetched with a
//! bounded timeout, cached, refreshed on a timer, and fetched again early
//! (at most every [`REFETCH_MIN`]) when a token names an unknown `kid`, so
//! a key rotation is picked up without waiting for the timer.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::jwt::PublicKey;

/// An unknown `kid` triggers a fetch at most this often, so forged kids
/// cannot make us hammer the key server.
const REFETCH_MIN: Duration = Duration::from_secs(10);
/// A key set larger than this is refused: it bounds what a compromised or
/// broken key server can make us hold.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

struct Remote {
    url: String,
    client: reqwest::Client,
    refresh: Duration,
    /// When the last fetch started; one fetch at a time.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

pub(crate) struct Jwks {
    keys: RwLock<Arc<Vec<PublicKey>>>,
    remote: Option<Remote>,
}

impl Jwks {
    /// The usable public keys of a JWKS document. Keys of unknown types
    /// and symmetric (`oct`) keys are skipped: a published key set holds
    /// public keys, and an HMAC key there would let anyone who can read it
    /// sign tokens.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Vec<PublicKey>, String> {
        let set: KeySet = serde_json::from_slice(bytes)
            .map_err(|e| format!("is not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
        let mut keys = Vec::new();
        for value in set.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let Some(mut key) = PublicKey::new(key, jwk.common.key_id.clone()) else {
                continue;
            };
            if let Some(alg) = jwk
                .common
                .key_algorithm
                .and_then(|a| Algorithm::try_from(a).ok())
            {
                // A key that names its algorithm verifies only that one.
                if !key.algorithms.contains(&alg) {
                    continue;
                }
                key.algorithms = vec![alg];
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("holds no usable public key (RSA, EC P-256/P-384 or Ed25519)".into());
        }
        Ok(keys)
    }

    pub(crate) fn fixed(keys: Vec<PublicKey>) -> Self {
        Jwks {
            keys: RwLock::new(Arc::new(keys)),
            remote: None,
        }
    }

    pub(crate) fn remote(url: &str, timeout: Duration, refresh: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Jwks {
            keys: RwLock::new(Arc::new(Vec::new())),
            remote: Some(Remote {
                url: url.to_owned(),
                client,
                refresh,
                last_attempt: tokio::sync::Mutex::new(None),
            }),
        })
    }

    fn current(&self) -> Arc<Vec<PublicKey>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn matching(&self, kid: Option<&str>, alg: Algorithm) -> Vec<PublicKey> {
        self.current()
            .iter()
            .filter(|k| k.algorithms.contains(&alg))
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .cloned()
            .collect()
    }

    /// Keys that may verify a token with this `kid` and `alg`.
    pub(crate) async fn keys_for(&self, kid: Option<&str>, alg: Algorithm) -> Vec<PublicKey> {
        let found = self.matching(kid, alg);
        if !found.is_empty() || kid.is_none() {
            return found;
        }
        if let Some(remote) = &self.remote {
            let mut last = remote.last_attempt.lock().await;
            // Another task may have fetched while we waited for the lock.
            let found = self.matching(kid, alg);
            if !found.is_empty() {
                return found;
            }
            if last.is_none_or(|at| at.elapsed() >= REFETCH_MIN) {
                *last = Some(Instant::now());
                drop(last);
                self.fetch(remote).await;
            }
        }
        self.matching(kid, alg)
    }

    async fn fetch(&self, remote: &Remote) {
        match fetch_keys(remote).await {
            Ok(keys) => {
                tracing::debug!(url = %remote.url, keys = keys.len(), "JWKS fetched");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
            }
            // The keys we have stay in use: a key server outage must not
            // log everybody out.
            Err(err) => tracing::warn!(url = %remote.url, error = %err, "JWKS fetch failed"),
        }
    }

    /// Fetches now and then every `refresh`, until `stop`.
    pub(crate) async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        let Some(remote) = &self.remote else {
            return;
        };
        loop {
            *remote.last_attempt.lock().await = Some(Instant::now());
            self.fetch(remote).await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(remote.refresh) => {}
            }
        }
    }
}

async fn fetch_keys(remote: &Remote) -> Result<Vec<PublicKey>, String> {
    let mut response = remote
        .client
        .get(&remote.url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Jwks::parse(&body)
}
