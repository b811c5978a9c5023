//! Counting broker and presence errors for `/metrics`: thin wrappers that
//! forward every call and count the ones that fail, so neither the hub nor
//! the broker implementations know metrics exist.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use switchboard_broker::{
    Broker, BrokerError, BrokerHandler, ClientInfo, ControlHandler, HistoryOptions, HistoryPage,
    HistoryQuery, PresenceManager, PresenceStats, Publication, StreamPosition,
};

/// Broker figures for `/metrics`.
pub struct BrokerMetrics {
    /// Failed broker and presence calls (unreachable, timed out). A refused
    /// recovery position is an answer, not a failure, and is not counted.
    pub errors: Arc<AtomicU64>,
    /// The broker, for its reconnect count.
    pub broker: Arc<dyn Broker>,
}

fn count<T>(errors: &AtomicU64, result: Result<T, BrokerError>) -> Result<T, BrokerError> {
    if let Err(BrokerError::Unavailable(_)) = &result {
        errors.fetch_add(1, Ordering::Relaxed);
    }
    result
}

/// A broker whose failed calls are counted.
pub struct CountedBroker {
    pub inner: Arc<dyn Broker>,
    pub errors: Arc<AtomicU64>,
}

#[async_trait]
impl Broker for CountedBroker {
    fn set_handler(&self, handler: Arc<dyn BrokerHandler>) {
        self.inner.set_handler(handler);
    }

    fn reconnects(&self) -> u64 {
        self.inner.reconnects()
    }

    async fn publish(
        &self,
        channel: &str,
        publication: Publication,
        history: Option<HistoryOptions>,
    ) -> Result<StreamPosition, BrokerError> {
        count(
            &self.errors,
            self.inner.publish(channel, publication, history).await,
        )
    }

    async fn publish_join(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.publish_join(channel, info).await)
    }

    async fn publish_leave(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.publish_leave(channel, info).await)
    }

    async fn subscribe(&self, channel: &str) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.subscribe(channel).await)
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.unsubscribe(channel).await)
    }

    async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
        history: HistoryOptions,
    ) -> Result<HistoryPage, BrokerError> {
        count(
            &self.errors,
            self.inner.history(channel, query, history).await,
        )
    }

    async fn join_control(
        &self,
        node: &str,
        handler: Arc<dyn ControlHandler>,
    ) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.join_control(node, handler).await)
    }

    async fn publish_control(&self, to: Option<&str>, message: Bytes) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.publish_control(to, message).await)
    }

    async fn remove_history(&self, channel: &str) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.remove_history(channel).await)
    }
}

/// A presence manager whose failed calls are counted.
pub struct CountedPresence {
    pub inner: Arc<dyn PresenceManager>,
    pub errors: Arc<AtomicU64>,
}

#[async_trait]
impl PresenceManager for CountedPresence {
    async fn add(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.add(channel, info).await)
    }

    async fn remove(&self, channel: &str, client: &str) -> Result<(), BrokerError> {
        count(&self.errors, self.inner.remove(channel, client).await)
    }

    async fn presence(
        &self,
        channel: &str,
    ) -> Result<HashMap<String, Arc<ClientInfo>>, BrokerError> {
        count(&self.errors, self.inner.presence(channel).await)
    }

    async fn stats(&self, channel: &str) -> Result<PresenceStats, BrokerError> {
        count(&self.errors, self.inner.stats(channel).await)
    }
}
