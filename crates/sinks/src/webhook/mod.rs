//! The webhook sink: events POSTed to a URL, signed, retried, and the
//! response's answers carried out (see `docs/WEBHOOKS.md`).

pub mod http;
mod sign;

use std::sync::Arc;
use std::time::Duration;

use switchboard_config::WebhookConfig;
use switchboard_protocol::event::Event;

pub use sign::signature;

use crate::answer::{self, Answer};
use crate::durable::{Failure, Target};

/// A webhook target.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
    batched: bool,
    /// Read answers from response bodies (`replies`).
    answers: bool,
}

/// Headers the sink sets.
pub mod headers {
    /// The event id (a batch: the first id, `+`, and how many follow).
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
    /// Unix seconds when the request was signed.
    pub const TIMESTAMP: &str = "x-switchboard-timestamp";
    /// `sha256=<hex>`, see [`super::signature`].
    pub const SIGNATURE: &str = "x-switchboard-signature";
    /// The event type (single events only).
    pub const EVENT: &str = "x-switchboard-event";
}

impl Webhook {
    /// A target for `config`.
    pub fn new(config: &WebhookConfig) -> Result<Webhook, String> {
        let client = http::client(config.timeout, &config.headers)?;
        Ok(Webhook {
            client,
            url: config.url.clone(),
            secret: config.secret.as_bytes().to_vec(),
            batched: config.delivery.batch_size > 1,
            answers: config.replies,
        })
    }

    fn body(&self, batch: &[Arc<Event>]) -> Vec<u8> {
        // Serialising our own types cannot fail.
        if self.batched {
            serde_json::to_vec(batch).unwrap_or_default()
        } else {
            serde_json::to_vec(batch[0].as_ref()).unwrap_or_default()
        }
    }
}

impl Target for Webhook {
    async fn send(&mut self, batch: &[Arc<Event>]) -> Result<Vec<Option<Answer>>, Failure> {
        let Some(first) = batch.first() else {
            return Ok(Vec::new());
        };
        let body = self.body(batch);
        let key = if batch.len() == 1 {
            first.id.clone()
        } else {
            format!("{}+{}", first.id, batch.len() - 1)
        };
        let mut request = self
            .client
            .post(&self.url)
            .header(headers::IDEMPOTENCY_KEY, key);
        if !self.batched {
            let kind = serde_json::to_value(first.event).ok();
            if let Some(kind) = kind.as_ref().and_then(|k| k.as_str()) {
                request = request.header(headers::EVENT, kind);
            }
        }
        let response = http::signed(request, &self.secret, body)
            .send()
            .await
            .map_err(|err| Failure::transient(describe(&err)))?;
        let status = response.status();
        if !status.is_success() {
            let retry =
                status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
            // Only the seconds form; an HTTP date is rare from backends.
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err(Failure {
                message: format!("HTTP {status}"),
                retry,
                retry_after,
            });
        }
        if !self.answers {
            return Ok(Vec::new());
        }
        // The events are delivered; a body that cannot be read only loses the answers.
        let body = response.bytes().await.unwrap_or_default();
        Ok(answer::parse(&body, batch.len()))
    }
}

/// A transport error in a few words (reqwest's own text names the URL and
/// nests sources; the status and dead letters show this one).
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}
