//! The backend proxy (`[proxy]`): on connect, subscribe, publish and RPC,
//! the backend is asked what to do, in Centrifugo's HTTP proxy shapes:
//! the request names the client and what it wants; the answer is
//! `{"result": {…}}` (go ahead, with what), `{"error": {"code", "message"}}`
//! (refused, the client gets this error) or `{"disconnect": {"code",
//! "reason"}}` (the connection is closed).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_config::{OnError, ProxyConfig};
use switchboard_sinks::webhook::http;

/// Most cached answers; the cache is cleared when full.
const CACHE_MAX: usize = 10_000;

/// What the backend is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A client connects (`auth.mode = "proxy"`).
    Connect,
    /// A client subscribes (`proxy_subscribe`).
    Subscribe,
    /// A client publishes (`proxy_publish`).
    Publish,
    /// A client calls `rpc`.
    Rpc,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Connect => "connect",
            Kind::Subscribe => "subscribe",
            Kind::Publish => "publish",
            Kind::Rpc => "rpc",
        }
    }
}

/// The backend's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go ahead; the backend's `result` object (`{}` when failing open).
    Allow(Value),
    /// Refused with this error for the client.
    Deny {
        /// Error code (the backend's, or 100 when it could not be asked).
        code: u32,
        /// Message for the client.
        message: String,
    },
    /// Close the connection with this code and reason.
    Disconnect {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// The error code a client gets when the backend cannot be asked
/// (Centrifugo's "internal server error").
pub const UNAVAILABLE: u32 = 100;

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<AnswerError>,
    #[serde(default)]
    disconnect: Option<AnswerDisconnect>,
}

#[derive(Deserialize)]
struct AnswerError {
    code: u32,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct AnswerDisconnect {
    code: u16,
    #[serde(default)]
    reason: String,
}

/// The proxy client.
pub struct Proxy {
    client: reqwest::Client,
    config: ProxyConfig,
    cache: Mutex<HashMap<String, (Instant, Value)>>,
}

impl Proxy {
    /// A client for `config`; `None` when no URL is set.
    pub fn new(config: &ProxyConfig) -> Result<Option<Proxy>, String> {
        let any = [
            &config.connect_url,
            &config.subscribe_url,
            &config.publish_url,
            &config.rpc_url,
        ]
        .iter()
        .any(|u| !u.is_empty());
        if !any {
            return Ok(None);
        }
        let client = http::client(config.timeout, &config.headers)
            .map_err(|e| format!("proxy.headers: {e}"))?;
        Ok(Some(Proxy {
            client,
            config: config.clone(),
            cache: Mutex::new(HashMap::new()),
        }))
    }

    /// True when `kind` has a URL to ask.
    pub fn handles(&self, kind: Kind) -> bool {
        !self.url(kind).is_empty()
    }

    fn url(&self, kind: Kind) -> &str {
        match kind {
            Kind::Connect => &self.config.connect_url,
            Kind::Subscribe => &self.config.subscribe_url,
            Kind::Publish => &self.config.publish_url,
            Kind::Rpc => &self.config.rpc_url,
        }
    }

    /// Asks the backend about `request`. Positive answers are reused for
    /// `cache_ttl` when the same request (whatever the client id) comes
    /// again; RPC answers never are.
    pub async fn ask(&self, kind: Kind, request: Value) -> Verdict {
        let key = self.cache_key(kind, &request);
        if let Some(result) = key.as_ref().and_then(|k| self.cached(k)) {
            return Verdict::Allow(result);
        }
        let verdict = match self.post(kind, &request).await {
            Ok(verdict) => verdict,
            Err(problem) => {
                tracing::warn!(kind = kind.name(), %problem, "backend proxy unavailable");
                self.on_error(kind, problem)
            }
        };
        if let (Some(key), Verdict::Allow(result)) = (key, &verdict) {
            self.remember(key, result.clone());
        }
        verdict
    }

    fn on_error(&self, kind: Kind, problem: String) -> Verdict {
        // Failing open cannot make up an RPC answer.
        if self.config.on_error == OnError::Allow && kind != Kind::Rpc {
            return Verdict::Allow(json!({}));
        }
        Verdict::Deny {
            code: UNAVAILABLE,
            message: format!("backend unavailable: {problem}"),
        }
    }

    async fn post(&self, kind: Kind, request: &Value) -> Result<Verdict, String> {
        // Serialising a Value cannot fail.
        let body = serde_json::to_vec(request).unwrap_or_default();
        let call = self.client.post(self.url(kind));
        let response = http::signed(call, self.config.secret.as_bytes(), body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "cannot reach the backend".to_owned()
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|_| "the answer is not a JSON object".to_owned())?;
        match answer {
            Answer {
                disconnect: Some(d),
                ..
            } => Ok(Verdict::Disconnect {
                code: d.code,
                reason: d.reason,
            }),
            Answer { error: Some(e), .. } => Ok(Verdict::Deny {
                code: e.code,
                message: e.message,
            }),
            Answer {
                result: Some(result),
                ..
            } => Ok(Verdict::Allow(result)),
            _ => Err("the answer has no result, error or disconnect".to_owned()),
        }
    }

    fn cache_key(&self, kind: Kind, request: &Value) -> Option<String> {
        if self.config.cache_ttl.is_zero() || kind == Kind::Rpc {
            return None;
        }
        let mut request = request.clone();
        if let Some(fields) = request.as_object_mut() {
            fields.remove("client");
        }
        Some(format!("{}:{request}", kind.name()))
    }

    fn cached(&self, key: &str) -> Option<Value> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.config.cache_ttl)
            .map(|(_, result)| result.clone())
    }

    fn remember(&self, key: String, result: Value) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            let ttl = self.config.cache_ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), result));
    }
}

/// The fields every proxy request starts with.
pub fn base_request(client: &str, protocol: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("client".into(), Value::from(client));
    m.insert("transport".into(), Value::from("websocket"));
    m.insert("protocol".into(), Value::from(protocol));
    m.insert("encoding".into(), Value::from("json"));
    m
}

/// A connect result as the identity it grants: `user`, `expire_at` (Unix
/// seconds), `info`, `channels`, `meta`.
pub fn identity(result: &Value) -> switchboard_auth::Identity {
    let bytes = |v: Option<&Value>| {
        v.filter(|v| !v.is_null())
            .map(|v| bytes::Bytes::from(v.to_string()))
    };
    switchboard_auth::Identity {
        user: result["user"].as_str().unwrap_or_default().to_owned(),
        info: bytes(result.get("info")),
        expires_at: result["expire_at"].as_u64().filter(|at| *at > 0),
        token_id: String::new(),
        channels: result["channels"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        meta: bytes(result.get("meta")),
    }
}
