//! The sharded connection registry.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_protocol::event::ConnectionInfo;
use switchboard_transport::{CloseFrame, OutMessage, Outbound, SendError};

use crate::flush::{Flusher, Flushes};
use crate::target::Target;

/// An unguessable connection id: 122 random bits (UUID v4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(uuid::Uuid);

impl ConnectionId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Which of `shards` this connection falls in (its bits are random).
    pub(crate) fn shard(&self, shards: usize) -> usize {
        (self.0.as_u64_pair().1 % shards as u64) as usize
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for ConnectionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// How a connection wants server-sent data framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The data as is.
    Plain,
    /// Wrapped in a message object (`{"payload": …}`).
    Envelope,
    /// A `channels` connection: wrapped in the protocol's `message` push.
    ChannelsPush,
}

/// A registered connection.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its metadata.
    pub info: Arc<ConnectionInfo>,
    /// Its send queue.
    pub outbound: Outbound,
    /// How server-sent data is framed for it.
    pub format: Format,
}

/// Counts of a fan-out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Queued.
    pub delivered: u64,
    /// Refused by a full queue.
    pub dropped: u64,
}

// Enough shards that two cores never contend on one, few enough that
// iterating all of them for a broadcast stays cheap.
const SHARDS: usize = 32;

type Shard = Mutex<HashMap<ConnectionId, Entry>>;

struct Inner {
    shards: Box<[Shard]>,
    hasher: std::collections::hash_map::RandomState,
    len: AtomicUsize,
    flusher: Arc<Flusher>,
}

/// The connection registry; clone freely.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("connections", &self.len())
            .finish()
    }
}

/// Removes its connection from the hub when dropped.
#[must_use = "the connection is unregistered when this is dropped"]
pub struct Registration {
    hub: Hub,
    id: ConnectionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.hub.shard(&self.id).remove(&self.id).is_some() {
            self.hub.inner.len.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self {
            inner: Arc::new(Inner {
                shards,
                hasher: Default::default(),
                len: AtomicUsize::new(0),
                flusher: Flusher::new(),
            }),
        }
    }

    // std Mutex: held only for map operations and non-blocking queue pushes,
    // never across an await. A poisoned shard is still a valid map.
    fn shard(&self, id: &ConnectionId) -> MutexGuard<'_, HashMap<ConnectionId, Entry>> {
        let index = (self.inner.hasher.hash_one(id) as usize) % SHARDS;
        lock(&self.inner.shards[index])
    }

    /// Adds a connection; it stays until the returned guard is dropped.
    pub fn register(&self, id: ConnectionId, entry: Entry) -> Registration {
        self.shard(&id).insert(id, entry);
        self.inner.len.fetch_add(1, Ordering::Relaxed);
        Registration {
            hub: self.clone(),
            id,
        }
    }

    /// Replaces a connection's metadata (after authentication sets its user).
    pub fn update_info(&self, id: ConnectionId, info: Arc<ConnectionInfo>) {
        if let Some(entry) = self.shard(&id).get_mut(&id) {
            entry.info = info;
        }
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.inner.len.load(Ordering::Relaxed)
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` for every targeted entry not in `exclude`, under its shard lock.
    fn for_each(
        &self,
        target: Target<'_>,
        exclude: &[ConnectionId],
        mut f: impl FnMut(&ConnectionId, &Entry),
    ) {
        let mut visit = |id: &ConnectionId, entry: &Entry| {
            if !exclude.contains(id) {
                f(id, entry);
            }
        };
        match target {
            Target::Connection(id) => {
                if let Some(entry) = self.shard(&id).get(&id) {
                    visit(&id, entry);
                }
            }
            Target::Connections(ids) => {
                for id in ids {
                    if let Some(entry) = self.shard(id).get(id) {
                        visit(id, entry);
                    }
                }
            }
            _ => {
                for shard in self.inner.shards.iter() {
                    for (id, entry) in lock(shard).iter() {
                        if target.matches(id, entry) {
                            visit(id, entry);
                        }
                    }
                }
            }
        }
    }

    /// Queues a message to every target. `message` gives the encoding for
    /// each format (`None`: that format cannot carry it, and such
    /// connections are skipped), built once per format and shared by
    /// reference count.
    pub fn send(
        &self,
        target: Target<'_>,
        exclude: &[ConnectionId],
        message: impl Fn(Format) -> Option<OutMessage>,
    ) -> Delivery {
        let plain = message(Format::Plain);
        let envelope = message(Format::Envelope);
        let push = message(Format::ChannelsPush);
        let mut delivery = Delivery::default();
        let mut flushes = Flushes::default();
        self.for_each(target, exclude, |id, entry| {
            let encoded = match entry.format {
                Format::Plain => &plain,
                Format::Envelope => &envelope,
                Format::ChannelsPush => &push,
            };
            let Some(msg) = encoded.clone() else {
                return;
            };
            match flushes.send(id, &entry.outbound, msg) {
                Ok(()) => delivery.delivered += 1,
                Err(SendError::Dropped | SendError::Overflow) => delivery.dropped += 1,
                Err(SendError::Closed) => {}
            }
        });
        self.inner.flusher.submit(flushes);
        delivery
    }

    /// Asks every target to close with the frame `frame` gives for its
    /// format; returns how many were told.
    pub fn disconnect(
        &self,
        target: Target<'_>,
        exclude: &[ConnectionId],
        frame: impl Fn(Format) -> CloseFrame,
    ) -> u64 {
        let mut count = 0;
        self.for_each(target, exclude, |_, entry| {
            if !entry.outbound.is_closed() {
                entry.outbound.close(frame(entry.format));
                count += 1;
            }
        });
        count
    }

    /// Metadata of the targeted connections, sorted by id.
    pub fn list(&self, target: Target<'_>) -> Vec<Arc<ConnectionInfo>> {
        let mut out = Vec::new();
        self.for_each(target, &[], |_, entry| out.push(entry.info.clone()));
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Distinct authenticated users among open connections.
    pub fn user_count(&self) -> usize {
        let mut users = std::collections::HashSet::new();
        self.for_each(Target::All, &[], |_, entry| {
            if let Some(user) = &entry.info.user {
                users.insert(user.clone());
            }
        });
        users.len()
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<ConnectionId, Entry>> {
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_transport::{OverflowPolicy, TrafficStats};

    fn entry(endpoint: &str, user: Option<&str>, format: Format) -> (ConnectionId, Entry) {
        let id = ConnectionId::random();
        let info = ConnectionInfo {
            id: id.to_string(),
            endpoint: endpoint.into(),
            remote_addr: "127.0.0.1:1".into(),
            user_agent: None,
            origin: None,
            subprotocol: None,
            user: user.map(Into::into),
            transport: Default::default(),
            connected_at: "now".into(),
        };
        let stats = Arc::new(TrafficStats::default());
        let outbound = Outbound::new(1 << 20, OverflowPolicy::Drop, stats);
        (
            id,
            Entry {
                info: Arc::new(info),
                outbound,
                format,
            },
        )
    }

    fn text(format: Format) -> Option<OutMessage> {
        Some(OutMessage::text(match format {
            Format::Plain => "plain",
            Format::Envelope => "envelope",
            Format::ChannelsPush => "push",
        }))
    }

    #[test]
    fn targets_and_exclusions() {
        let hub = Hub::new();
        let (a, ea) = entry("/a", Some("u1"), Format::Plain);
        let (b, eb) = entry("/a", Some("u2"), Format::Envelope);
        let (c, ec) = entry("/b", Some("u1"), Format::Plain);
        let _ga = hub.register(a, ea.clone());
        let _gb = hub.register(b, eb.clone());
        let gc = hub.register(c, ec.clone());
        assert_eq!(hub.len(), 3);
        assert_eq!(hub.user_count(), 2);

        assert_eq!(hub.send(Target::All, &[], text).delivered, 3);
        assert_eq!(hub.send(Target::All, &[b], text).delivered, 2);
        assert_eq!(hub.send(Target::Endpoint("/a"), &[], text).delivered, 2);
        assert_eq!(hub.send(Target::User("u1"), &[], text).delivered, 2);
        assert_eq!(hub.send(Target::Connection(c), &[], text).delivered, 1);
        assert_eq!(
            hub.send(Target::Connections(&[a, b]), &[a], text).delivered,
            1
        );
        assert_eq!(hub.list(Target::Endpoint("/b")).len(), 1);
        // b is an envelope connection: it got the envelope encoding.
        assert_eq!(eb.outbound.queued_bytes(), "envelope".len() * 3);

        drop(gc);
        assert_eq!(hub.len(), 2);
        assert_eq!(hub.send(Target::Connection(c), &[], text).delivered, 0);
        let frame = CloseFrame::new(4000, "bye");
        assert_eq!(
            hub.disconnect(Target::User("u1"), &[], |_| frame.clone()),
            1
        );
        assert_eq!(
            hub.disconnect(Target::User("u1"), &[], |_| frame.clone()),
            0
        );
        assert!(ea.outbound.is_closed());
    }

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = ConnectionId::random();
        assert_eq!(id.to_string().parse::<ConnectionId>().unwrap(), id);
        assert!("not-an-id".parse::<ConnectionId>().is_err());
    }
}
