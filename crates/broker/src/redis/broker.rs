//! [`RedisBroker`]: publications through Lua + pub/sub, history in streams.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use rand::distr::{Alphanumeric, SampleString};
use redis::aio::{PubSubSink, PubSubStream};
use redis::{AsyncCommands, Script};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::codec::{self, Message};
use super::{bounded, scripts, Commands, Keys, RedisOptions};
use crate::types::{
    BrokerError, ClientInfo, HistoryOptions, HistoryPage, HistoryQuery, Publication, StreamPosition,
};
use crate::{now_ms, Broker, BrokerHandler, ControlHandler};

/// The meta hash (epoch, top offset) lives at least this long after the
/// last publish, so offsets and the epoch survive a quiet period.
const META_MIN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Reconnect backoff of the pub/sub connection.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A silent pub/sub connection is PINGed this often to notice a dead peer.
const PUBSUB_PING_EVERY: Duration = Duration::from_secs(10);

fn new_epoch() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 8)
}

fn meta_ttl(history: &HistoryOptions) -> u64 {
    history.ttl.max(META_MIN_TTL).as_millis() as u64
}

/// A broker on Redis: every node connected to the same Redis (and prefix)
/// sees the same channels, offsets and history.
///
/// It holds a command connection, to one server or a cluster (reconnects by itself; a
/// command during an outage fails within 5 s with
/// [`BrokerError::Unavailable`]) and one pub/sub connection owned by a
/// background task that delivers to the handler and reconnects with
/// backoff, re-subscribing every channel. Dropping the broker stops that
/// task.
pub struct RedisBroker {
    inner: Arc<Inner>,
    _reader: AbortOnDrop,
}

struct Inner {
    keys: Keys,
    commands: Commands,
    /// Where Redis is, for reconnecting pub/sub.
    options: RedisOptions,
    handler: OnceLock<Arc<dyn BrokerHandler>>,
    control: OnceLock<Arc<dyn ControlHandler>>,
    subs: Mutex<Subscriptions>,
    publish: Script,
    history: Script,
    /// Successful pub/sub reconnects, for metrics.
    reconnects: AtomicU64,
}

/// Channels this node wants (a count of `subscribe` minus `unsubscribe`
/// calls, so an unsubscribe racing with a new first subscribe leaves the
/// channel subscribed) and the live pub/sub sink, `None` while reconnecting.
struct Subscriptions {
    wanted: HashMap<String, usize>,
    /// The control bus pub/sub channels (to all nodes, to this node), once joined.
    control: Vec<String>,
    sink: Option<PubSubSink>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker").finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Connects (commands and pub/sub), within 5 s; a Redis that cannot be
    /// reached is [`BrokerError::Unavailable`].
    pub async fn connect(options: RedisOptions) -> Result<Self, BrokerError> {
        Self::start(options, false).await
    }

    /// Like [`connect`](Self::connect), but a Redis that cannot be reached
    /// now is no error: calls fail with [`BrokerError::Unavailable`] until
    /// it answers, and the pub/sub connection keeps trying with backoff
    /// (subscribing every channel asked for meanwhile). Only invalid
    /// options are errors.
    pub async fn connect_degraded(options: RedisOptions) -> Result<Self, BrokerError> {
        Self::start(options, true).await
    }

    async fn start(options: RedisOptions, degraded: bool) -> Result<Self, BrokerError> {
        let keys = Keys::new(&options.prefix)?;
        let commands = super::connect_commands(&options, degraded).await?;
        let (sink, stream) = match super::connect_pubsub(&options).await {
            Ok(pubsub) => {
                let (sink, stream) = pubsub.split();
                (Some(sink), Some(stream))
            }
            Err(err) if degraded => {
                tracing::warn!(error = %err, "redis unreachable; starting degraded and retrying");
                (None, None)
            }
            Err(err) => return Err(err),
        };
        let inner = Arc::new(Inner {
            keys,
            commands,
            options,
            handler: OnceLock::new(),
            control: OnceLock::new(),
            subs: Mutex::new(Subscriptions {
                wanted: HashMap::new(),
                control: Vec::new(),
                sink,
            }),
            publish: Script::new(scripts::PUBLISH),
            history: Script::new(scripts::HISTORY),
            reconnects: AtomicU64::new(0),
        });
        let reader = tokio::spawn(run_pubsub(Arc::downgrade(&inner), stream));
        Ok(Self {
            inner,
            _reader: AbortOnDrop(reader),
        })
    }

    pub(crate) fn commands(&self) -> Commands {
        self.inner.commands.clone()
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }
}

/// The pub/sub task: reads messages in order and hands them to the handler;
/// on a lost connection reconnects with backoff and re-subscribes. Holds
/// only a weak reference, so it never keeps the broker alive.
async fn run_pubsub(inner: std::sync::Weak<Inner>, mut stream: Option<PubSubStream>) {
    loop {
        if let Some(stream) = stream.as_mut() {
            read_until_lost(&inner, stream).await;
            let Some(strong) = inner.upgrade() else {
                return;
            };
            strong.subs.lock().await.sink = None;
            drop(strong);
            tracing::warn!("redis pub/sub connection lost; reconnecting");
        }
        let mut backoff = BACKOFF_MIN;
        stream = loop {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
            let Some(strong) = inner.upgrade() else {
                return;
            };
            match resubscribe(&strong).await {
                Ok(stream) => break Some(stream),
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "redis pub/sub reconnect failed")
                }
            }
        };
    }
}

/// Connects a new pub/sub connection and SUBSCRIBEs every wanted channel
/// before any subscribe/unsubscribe call can use it.
async fn resubscribe(inner: &Inner) -> Result<PubSubStream, BrokerError> {
    let (mut sink, stream) = super::connect_pubsub(&inner.options).await?.split();
    let mut subs = inner.subs.lock().await;
    let channels = subs.wanted.keys().map(|c| inner.keys.pubsub(c));
    let names: Vec<String> = channels.chain(subs.control.iter().cloned()).collect();
    for chunk in names.chunks(500) {
        bounded("resubscribe", sink.subscribe(chunk)).await?;
    }
    subs.sink = Some(sink);
    drop(subs);
    inner.reconnects.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        channels = names.len(),
        "redis pub/sub reconnected; channels re-subscribed"
    );
    if let Some(handler) = inner.handler.get() {
        handler.on_resubscribed();
    }
    Ok(stream)
}

async fn read_until_lost(inner: &std::sync::Weak<Inner>, stream: &mut PubSubStream) {
    loop {
        let next = tokio::time::timeout(PUBSUB_PING_EVERY, stream.next()).await;
        let Some(inner) = inner.upgrade() else { return };
        match next {
            Ok(Some(msg)) => deliver(&inner, msg.get_channel_name(), msg.get_payload_bytes()),
            Ok(None) => return,
            Err(_) => {
                // Quiet for a while: make sure the peer is still there.
                let sink = inner.subs.lock().await.sink.clone();
                let Some(mut sink) = sink else { return };
                if let Err(err) = bounded("pub/sub ping", sink.ping::<()>()).await {
                    tracing::warn!(error = %err, "redis pub/sub ping failed");
                    return;
                }
            }
        }
    }
}

fn deliver(inner: &Inner, pubsub: &str, payload: &[u8]) {
    let Some(channel) = inner.keys.channel_of(pubsub) else {
        if let Some(control) = inner.control.get() {
            control.on_control(Bytes::copy_from_slice(payload));
        }
        return;
    };
    let Some(handler) = inner.handler.get() else {
        return;
    };
    match codec::decode_message(payload) {
        Some(Message::Publication(publication, position)) => {
            handler.on_publication(channel, Arc::new(publication), &position)
        }
        Some(Message::Join(info)) => handler.on_join(channel, Arc::new(info)),
        Some(Message::Leave(info)) => handler.on_leave(channel, Arc::new(info)),
        None => tracing::warn!(
            channel,
            bytes = payload.len(),
            "undecodable message from redis pub/sub; skipped"
        ),
    }
}

/// The control bus pub/sub channel of one node, or of all. Not under
/// `:pub:`, so no channel name can collide with it.
fn control_name(inner: &Inner, node: Option<&str>) -> String {
    match node {
        Some(node) => format!("{}:node:{node}", inner.options.prefix),
        None => format!("{}:control", inner.options.prefix),
    }
}

fn string(v: Option<Vec<u8>>) -> Result<String, BrokerError> {
    v.and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| BrokerError::Unavailable("redis history: malformed script reply".into()))
}

fn number(v: Option<Vec<u8>>) -> Result<u64, BrokerError> {
    string(v)?
        .parse()
        .map_err(|_| BrokerError::Unavailable("redis history: malformed script reply".into()))
}

#[async_trait]
impl Broker for RedisBroker {
    fn set_handler(&self, handler: Arc<dyn BrokerHandler>) {
        let _ = self.inner.handler.set(handler);
    }

    async fn publish(
        &self,
        channel: &str,
        publication: Publication,
        history: Option<HistoryOptions>,
    ) -> Result<StreamPosition, BrokerError> {
        let keys = &self.inner.keys;
        let mut con = self.inner.commands.clone();
        let Some(history) = history else {
            let position = StreamPosition::default();
            let message = codec::encode_publication_message(&publication, &position);
            bounded(
                "publish",
                con.publish::<_, _, ()>(keys.pubsub(channel), message),
            )
            .await?;
            return Ok(position);
        };
        let body = codec::encode_publication_body(&publication);
        let mut invocation = self.inner.publish.prepare_invoke();
        invocation
            .key(keys.stream(channel))
            .key(keys.meta(channel))
            .arg(new_epoch())
            .arg(body)
            .arg(publication.time_ms)
            .arg(history.size.max(1))
            .arg((history.ttl.as_millis() as u64).max(1))
            .arg(meta_ttl(&history))
            .arg(keys.pubsub(channel));
        let (offset, epoch): (u64, String) =
            bounded("publish", invocation.invoke_async(&mut con)).await?;
        Ok(StreamPosition { offset, epoch })
    }

    async fn publish_join(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let mut con = self.inner.commands.clone();
        let message = codec::encode_presence_message(&info, false);
        bounded(
            "publish join",
            con.publish::<_, _, ()>(self.inner.keys.pubsub(channel), message),
        )
        .await
    }

    async fn publish_leave(&self, channel: &str, info: Arc<ClientInfo>) -> Result<(), BrokerError> {
        let mut con = self.inner.commands.clone();
        let message = codec::encode_presence_message(&info, true);
        bounded(
            "publish leave",
            con.publish::<_, _, ()>(self.inner.keys.pubsub(channel), message),
        )
        .await
    }

    /// SUBSCRIBEs and waits for Redis to confirm, so publications after
    /// this returns reach the handler. Calls are counted: the channel is
    /// wanted until as many `unsubscribe` calls; it stays wanted (and is
    /// subscribed on reconnect) even when this call fails, since the hub
    /// answers a failed subscribe with an `unsubscribe`.
    fn reconnects(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    async fn subscribe(&self, channel: &str) -> Result<(), BrokerError> {
        let mut subs = self.inner.subs.lock().await;
        let count = subs.wanted.entry(channel.to_owned()).or_default();
        *count += 1;
        if *count > 1 {
            return Ok(());
        }
        let Some(sink) = subs.sink.as_mut() else {
            return Err(BrokerError::Unavailable(
                "redis pub/sub connection is down (reconnecting)".into(),
            ));
        };
        bounded("subscribe", sink.subscribe(self.inner.keys.pubsub(channel))).await
    }

    async fn unsubscribe(&self, channel: &str) -> Result<(), BrokerError> {
        let mut subs = self.inner.subs.lock().await;
        let Some(count) = subs.wanted.get_mut(channel) else {
            return Ok(());
        };
        *count -= 1;
        if *count > 0 {
            return Ok(());
        }
        subs.wanted.remove(channel);
        match subs.sink.as_mut() {
            // Down: the reconnect will not subscribe it again.
            None => Ok(()),
            Some(sink) => {
                bounded(
                    "unsubscribe",
                    sink.unsubscribe(self.inner.keys.pubsub(channel)),
                )
                .await
            }
        }
    }

    async fn history(
        &self,
        channel: &str,
        query: &HistoryQuery,
        history: HistoryOptions,
    ) -> Result<HistoryPage, BrokerError> {
        let keys = &self.inner.keys;
        let mut con = self.inner.commands.clone();
        let (since, since_epoch) = match &query.since {
            Some(p) => (p.offset as i64, p.epoch.as_str()),
            None => (-1, ""),
        };
        let mut invocation = self.inner.history.prepare_invoke();
        invocation
            .key(keys.stream(channel))
            .key(keys.meta(channel))
            .arg(new_epoch())
            .arg(meta_ttl(&history))
            .arg(now_ms())
            .arg(history.ttl.as_millis() as u64)
            .arg(history.size)
            .arg(since)
            .arg(since_epoch)
            .arg(query.limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64))
            .arg(if query.reverse { 1 } else { 0 });
        let reply: Vec<Vec<u8>> = bounded("history", invocation.invoke_async(&mut con)).await?;
        let mut reply = reply.into_iter();
        match reply.next().as_deref() {
            Some(b"ok") => {}
            Some(b"unrecoverable") => return Err(BrokerError::UnrecoverablePosition),
            _ => {
                return Err(BrokerError::Unavailable(
                    "redis history: malformed script reply".into(),
                ))
            }
        }
        let offset = number(reply.next())?;
        let epoch = string(reply.next())?;
        let mut publications = Vec::with_capacity(reply.len() / 2);
        while let Some(off) = reply.next() {
            let off = number(Some(off))?;
            let Some(body) = reply.next() else { break };
            match codec::decode_publication_body(off, &body) {
                Some(p) => publications.push(Arc::new(p)),
                None => tracing::warn!(channel, offset = off, "undecodable history entry; skipped"),
            }
        }
        Ok(HistoryPage {
            publications,
            position: StreamPosition { offset, epoch },
        })
    }

    /// SUBSCRIBEs `<prefix>:control` (every node) and `<prefix>:node:<node>`.
    async fn join_control(
        &self,
        node: &str,
        handler: Arc<dyn ControlHandler>,
    ) -> Result<(), BrokerError> {
        let names = vec![
            control_name(&self.inner, None),
            control_name(&self.inner, Some(node)),
        ];
        let _ = self.inner.control.set(handler);
        let mut subs = self.inner.subs.lock().await;
        subs.control = names.clone();
        match subs.sink.as_mut() {
            // Down: the reconnect subscribes them.
            None => Ok(()),
            Some(sink) => bounded("subscribe control", sink.subscribe(names)).await,
        }
    }

    async fn publish_control(&self, to: Option<&str>, message: Bytes) -> Result<(), BrokerError> {
        let mut con = self.inner.commands.clone();
        let name = control_name(&self.inner, to);
        bounded(
            "publish control",
            con.publish::<_, _, ()>(name, message.as_ref()),
        )
        .await
    }

    async fn remove_history(&self, channel: &str) -> Result<(), BrokerError> {
        let mut con = self.inner.commands.clone();
        bounded(
            "remove history",
            con.del::<_, ()>(self.inner.keys.stream(channel)),
        )
        .await
    }
}
