//! The embedded durable store: one redb file holding, per sink, the events
//! it has not delivered yet (its backlog beyond memory) and its dead letters.
//!
//! Every method is blocking; callers run it on a blocking thread.

use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_protocol::event::Event;

/// A store failure (I/O, a corrupt file, or the file held by another process).
#[derive(Debug, thiserror::Error)]
#[error("sink store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// An error with this message.
    pub fn new(message: String) -> Self {
        StoreError(message)
    }

    fn from(err: impl std::fmt::Display) -> Self {
        StoreError(err.to_string())
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// The first key of an empty queue: the middle of the key space, so events
/// can be put back in front of the oldest one (on shutdown) as well as
/// appended after the newest.
const MIDDLE: u64 = 1 << 63;

/// The store file. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the store at `path`, creating its folder.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(StoreError::from)?;
        }
        let db = Database::create(path).map_err(StoreError::from)?;
        Ok(Store { db: Arc::new(db) })
    }

    /// `sink`'s queue of undelivered events.
    pub fn queue(&self, sink: &str) -> Result<DiskQueue> {
        let table = format!("backlog/{sink}");
        let (head, tail) = {
            let txn = self.db.begin_read().map_err(StoreError::from)?;
            match txn.open_table(TableDefinition::<u64, &[u8]>::new(&table)) {
                Ok(t) => {
                    let first = t.first().map_err(StoreError::from)?.map(|(k, _)| k.value());
                    let last = t.last().map_err(StoreError::from)?.map(|(k, _)| k.value());
                    match (first, last) {
                        (Some(first), Some(last)) => (first, last + 1),
                        _ => (MIDDLE, MIDDLE),
                    }
                }
                Err(redb::TableError::TableDoesNotExist(_)) => (MIDDLE, MIDDLE),
                Err(err) => return Err(StoreError::from(err)),
            }
        };
        Ok(DiskQueue {
            db: self.db.clone(),
            table,
            head,
            tail,
        })
    }

    /// `sink`'s dead letters.
    pub fn dead_letters(&self, sink: &str) -> DeadLetters {
        DeadLetters {
            db: self.db.clone(),
            table: format!("dead/{sink}"),
        }
    }
}

fn encode(event: &Event) -> Vec<u8> {
    // Serialising our own type to a Vec cannot fail.
    serde_json::to_vec(event).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Option<Arc<Event>> {
    match serde_json::from_slice(bytes) {
        Ok(event) => Some(Arc::new(event)),
        Err(err) => {
            tracing::error!(error = %err, "an event in the sink store cannot be read; skipped");
            None
        }
    }
}

/// A FIFO of events on disk, keys `head..tail`.
pub struct DiskQueue {
    db: Arc<Database>,
    table: String,
    head: u64,
    tail: u64,
}

impl DiskQueue {
    fn def(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.table)
    }

    /// Events held.
    pub fn len(&self) -> u64 {
        self.tail - self.head
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Appends after the newest event; durable when this returns.
    pub fn push_back<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a Arc<Event>>,
    ) -> Result<()> {
        let mut key = self.tail;
        self.write(Durability::Immediate, |t| {
            for event in events {
                t.insert(key, encode(event).as_slice())?;
                key += 1;
            }
            Ok(())
        })?;
        self.tail = key;
        Ok(())
    }

    /// Puts `events` (oldest first) in front of the oldest event.
    pub fn push_front(&mut self, events: &[Arc<Event>]) -> Result<()> {
        let start = self.head - events.len() as u64;
        self.write(Durability::Immediate, |t| {
            for (key, event) in (start..).zip(events) {
                t.insert(key, encode(event).as_slice())?;
            }
            Ok(())
        })?;
        self.head = start;
        Ok(())
    }

    /// Up to `n` of the oldest events, left in place.
    pub fn peek(&self, n: usize) -> Result<Vec<Arc<Event>>> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin_read().map_err(StoreError::from)?;
        let table = txn.open_table(self.def()).map_err(StoreError::from)?;
        let mut out = Vec::with_capacity(n);
        for entry in table
            .range(self.head..self.tail)
            .map_err(StoreError::from)?
            .take(n)
        {
            let (_, value) = entry.map_err(StoreError::from)?;
            out.extend(decode(value.value()));
        }
        Ok(out)
    }

    /// Removes the `n` oldest events. Not flushed at once: after a crash they
    /// may be delivered again, which at-least-once allows, and it saves a
    /// disk flush per delivered batch.
    pub fn pop(&mut self, n: usize) -> Result<()> {
        let end = (self.head + n as u64).min(self.tail);
        let start = self.head;
        self.write(Durability::None, |t| {
            t.retain_in(start..end, |_, _| false)?;
            Ok(())
        })?;
        self.head = end;
        if self.head == self.tail {
            (self.head, self.tail) = (MIDDLE, MIDDLE);
            // Emptied: make it durable, so a restart does not redeliver.
            self.write(Durability::Immediate, |_| Ok(()))?;
        }
        Ok(())
    }

    fn write(
        &self,
        durability: Durability,
        f: impl FnOnce(
            &mut redb::Table<'_, u64, &'static [u8]>,
        ) -> std::result::Result<(), redb::StorageError>,
    ) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(StoreError::from)?;
        txn.set_durability(durability).map_err(StoreError::from)?;
        {
            let mut table = txn.open_table(self.def()).map_err(StoreError::from)?;
            f(&mut table).map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)
    }
}

/// One event whose delivery failed for good.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its number in this sink's dead letters.
    pub id: u64,
    /// The last error.
    pub error: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was given up (RFC 3339).
    pub failed_at: String,
    /// The event, as it would have been sent.
    pub event: Value,
}

/// A sink's dead letters, numbered from 1 in the order they failed.
pub struct DeadLetters {
    db: Arc<Database>,
    table: String,
}

impl DeadLetters {
    fn def(&self) -> TableDefinition<'_, u64, &'static [u8]> {
        TableDefinition::new(&self.table)
    }

    /// Stores `events` with the error that ended their delivery.
    pub fn add(&self, events: &[Arc<Event>], error: &str, attempts: u32) -> Result<()> {
        let failed_at = switchboard_protocol::now_rfc3339();
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        {
            let mut table = txn.open_table(self.def()).map_err(StoreError::from)?;
            let first = table
                .last()
                .map_err(StoreError::from)?
                .map_or(1, |(k, _)| k.value() + 1);
            for (id, event) in (first..).zip(events) {
                let letter = DeadLetter {
                    id,
                    error: error.to_owned(),
                    attempts,
                    failed_at: failed_at.clone(),
                    event: serde_json::to_value(event.as_ref()).unwrap_or(Value::Null),
                };
                let bytes = serde_json::to_vec(&letter).unwrap_or_default();
                table
                    .insert(id, bytes.as_slice())
                    .map_err(StoreError::from)?;
            }
        }
        txn.commit().map_err(StoreError::from)
    }

    /// How many are held.
    pub fn count(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(StoreError::from)?;
        match txn.open_table(self.def()) {
            Ok(t) => t.len().map_err(StoreError::from),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
            Err(err) => Err(StoreError::from(err)),
        }
    }

    /// Up to `limit` dead letters with ids above `after`, oldest first.
    pub fn list(&self, after: u64, limit: usize) -> Result<Vec<DeadLetter>> {
        let txn = self.db.begin_read().map_err(StoreError::from)?;
        let table = match txn.open_table(self.def()) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(err) => return Err(StoreError::from(err)),
        };
        let mut out = Vec::new();
        for entry in table
            .range(after.saturating_add(1)..)
            .map_err(StoreError::from)?
            .take(limit)
        {
            let (_, value) = entry.map_err(StoreError::from)?;
            if let Ok(letter) = serde_json::from_slice(value.value()) {
                out.push(letter);
            }
        }
        Ok(out)
    }

    /// Removes the dead letters `ids` (all when `None`) and returns them,
    /// oldest first.
    pub fn take(&self, ids: Option<&[u64]>) -> Result<Vec<DeadLetter>> {
        let txn = self.db.begin_write().map_err(StoreError::from)?;
        let mut taken = Vec::new();
        {
            let mut table = txn.open_table(self.def()).map_err(StoreError::from)?;
            table
                .retain(|id, bytes| {
                    let wanted = ids.is_none_or(|ids| ids.contains(&id));
                    if wanted {
                        if let Ok(letter) = serde_json::from_slice::<DeadLetter>(bytes) {
                            taken.push(letter);
                        }
                    }
                    !wanted
                })
                .map_err(StoreError::from)?;
        }
        txn.commit().map_err(StoreError::from)?;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Arc<Event> {
        crate::testing::event(&format!("c{n}"))
    }

    fn ids(events: &[Arc<Event>]) -> Vec<String> {
        events.iter().map(|e| e.connection.id.clone()).collect()
    }

    #[test]
    fn the_queue_keeps_order_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut q = store.queue("hook").unwrap();
            let batch: Vec<_> = (3..6).map(event).collect();
            q.push_back(&batch).unwrap();
            q.push_front(&[event(1), event(2)]).unwrap();
            assert_eq!(q.len(), 5);
            q.pop(1).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let q = store.queue("hook").unwrap();
        assert_eq!(ids(&q.peek(10).unwrap()), ["c2", "c3", "c4", "c5"]);
        assert!(store.queue("other").unwrap().is_empty());
    }

    #[test]
    fn dead_letters_are_listed_and_taken() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let dead = store.dead_letters("hook");
        assert_eq!(dead.count().unwrap(), 0);
        dead.add(&[event(1), event(2), event(3)], "HTTP 500", 8)
            .unwrap();
        assert_eq!(dead.count().unwrap(), 3);
        let page = dead.list(1, 10).unwrap();
        assert_eq!(page.iter().map(|d| d.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(page[0].event["connection"]["id"], "c2");
        let taken = dead.take(Some(&[1, 3])).unwrap();
        assert_eq!(taken.iter().map(|d| d.id).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(dead.take(None).unwrap().len(), 1);
        assert_eq!(dead.count().unwrap(), 0);
    }
}
