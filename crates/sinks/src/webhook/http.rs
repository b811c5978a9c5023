//! What every signed JSON POST Switchboard makes shares — webhooks and the
//! backend proxy: one pooled client with the configured headers and
//! timeout, and the timestamp and signature headers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};

use super::{headers, signature};

/// A client sending JSON with `extra` headers, each request bounded by `timeout`.
pub fn client(
    timeout: Duration,
    extra: &BTreeMap<String, String>,
) -> Result<reqwest::Client, String> {
    let mut defaults = HeaderMap::new();
    for (name, value) in extra {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("{name:?}: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("{name}: {e}"))?;
        defaults.insert(name, value);
    }
    defaults.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reqwest::Client::builder()
        .timeout(timeout)
        .default_headers(defaults)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// `request` with `body`, stamped with the time and, when `secret` is not
/// empty, signed.
pub fn signed(
    request: reqwest::RequestBuilder,
    secret: &[u8],
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut request = request.header(headers::TIMESTAMP, timestamp);
    if !secret.is_empty() {
        request = request.header(headers::SIGNATURE, signature(secret, timestamp, &body));
    }
    request.body(body)
}
