//! A durable sink's backlog: events in memory up to a limit, the rest on
//! disk, in one order. Memory holds the older part; once anything is on
//! disk, new events go to disk too until it has drained, so the order is
//! always memory then disk.

use std::collections::VecDeque;
use std::sync::Arc;

use switchboard_protocol::event::Event;

use crate::store::{DiskQueue, StoreError};

pub(crate) struct Backlog {
    memory: VecDeque<Arc<Event>>,
    disk: DiskQueue,
    memory_limit: usize,
}

impl Backlog {
    pub(crate) fn new(disk: DiskQueue, memory_limit: usize) -> Self {
        Backlog {
            memory: VecDeque::new(),
            disk,
            memory_limit,
        }
    }

    /// Events held, in memory and on disk.
    pub(crate) fn len(&self) -> u64 {
        self.memory.len() as u64 + self.disk.len()
    }

    pub(crate) fn on_disk(&self) -> u64 {
        self.disk.len()
    }

    /// True when `n` more events can be taken without touching the disk.
    pub(crate) fn fits_in_memory(&self, n: usize) -> bool {
        self.disk.is_empty() && self.memory.len() + n <= self.memory_limit
    }

    /// Takes events that fit in memory (see [`Backlog::fits_in_memory`]).
    pub(crate) fn push_memory(&mut self, events: &[Arc<Event>]) {
        self.memory.extend(events.iter().cloned());
    }

    /// Takes events, writing them to disk when memory is full (blocking).
    /// Returns how many went to disk.
    pub(crate) fn push(&mut self, events: &[Arc<Event>]) -> Result<usize, StoreError> {
        if self.fits_in_memory(events.len()) {
            self.push_memory(events);
            return Ok(0);
        }
        let room = if self.disk.is_empty() {
            self.memory_limit
                .saturating_sub(self.memory.len())
                .min(events.len())
        } else {
            0
        };
        let (to_memory, to_disk) = events.split_at(room);
        self.memory.extend(to_memory.iter().cloned());
        self.disk.push_back(to_disk)?;
        Ok(to_disk.len())
    }

    /// Up to `n` of the oldest events, left in place: from memory when it
    /// holds any, else from disk (blocking).
    pub(crate) fn peek(&self, n: usize) -> Result<Vec<Arc<Event>>, StoreError> {
        if self.memory.is_empty() {
            return self.disk.peek(n);
        }
        Ok(self.memory.iter().take(n).cloned().collect())
    }

    /// Removes the `n` events the last [`Backlog::peek`] returned. Only the
    /// delivery worker removes, and new events never go in front of them,
    /// so they are still the oldest.
    pub(crate) fn pop(&mut self, n: usize) -> Result<(), StoreError> {
        if self.memory.is_empty() {
            return self.disk.pop(n);
        }
        self.memory.drain(..n.min(self.memory.len()));
        Ok(())
    }

    /// Moves what is in memory to the front of the disk queue, so that a
    /// restart delivers it first (blocking).
    pub(crate) fn persist(&mut self) -> Result<usize, StoreError> {
        let events: Vec<_> = self.memory.drain(..).collect();
        self.disk.push_front(&events)?;
        Ok(events.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn event(n: usize) -> Arc<Event> {
        crate::testing::event(&format!("c{n}"))
    }

    fn drain(b: &mut Backlog) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let batch = b.peek(2).unwrap();
            if batch.is_empty() {
                return out;
            }
            out.extend(batch.iter().map(|e| e.connection.id.clone()));
            b.pop(batch.len()).unwrap();
        }
    }

    #[test]
    fn spills_past_the_memory_limit_and_keeps_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let mut b = Backlog::new(store.queue("q").unwrap(), 3);
        let first: Vec<_> = (0..5).map(event).collect();
        assert_eq!(
            b.push(&first).unwrap(),
            2,
            "two of five spill past a limit of 3"
        );
        b.pop(b.peek(1).unwrap().len()).unwrap();
        // Memory has room again, but the disk is not empty: new events queue behind it.
        assert_eq!(b.push(&[event(5)]).unwrap(), 1);
        assert_eq!((b.len(), b.on_disk()), (5, 3));
        assert_eq!(drain(&mut b), ["c1", "c2", "c3", "c4", "c5"]);
        assert!(b.fits_in_memory(3));
    }

    #[test]
    fn persisted_memory_comes_first_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut b = Backlog::new(store.queue("q").unwrap(), 2);
            let events: Vec<_> = (0..4).map(event).collect();
            b.push(&events).unwrap();
            assert_eq!(b.persist().unwrap(), 2);
        }
        let store = Store::open(&path).unwrap();
        let mut b = Backlog::new(store.queue("q").unwrap(), 2);
        assert_eq!(drain(&mut b), ["c0", "c1", "c2", "c3"]);
    }
}
