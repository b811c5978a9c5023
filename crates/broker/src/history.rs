//! One channel's history stream: offset assignment, trimming by size and
//! age, and reads relative to a client's last position. Pure logic, so the
//! recovery rules are tested on their own (see the property tests below).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::types::{
    BrokerError, HistoryOptions, HistoryPage, HistoryQuery, Publication, StreamPosition,
};

/// A channel's stream within one epoch.
#[derive(Debug, Clone)]
pub struct Stream {
    epoch: String,
    top: u64,
    items: VecDeque<Arc<Publication>>,
}

impl Stream {
    /// An empty stream starting a new epoch.
    pub fn new(epoch: String) -> Self {
        Self {
            epoch,
            top: 0,
            items: VecDeque::new(),
        }
    }

    /// The current top.
    pub fn position(&self) -> StreamPosition {
        StreamPosition {
            offset: self.top,
            epoch: self.epoch.clone(),
        }
    }

    /// Publications currently kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Assigns the next offset, keeps the publication, trims.
    pub fn append(
        &mut self,
        mut publication: Publication,
        options: &HistoryOptions,
    ) -> Arc<Publication> {
        self.top += 1;
        publication.offset = self.top;
        let now = publication.time_ms;
        let publication = Arc::new(publication);
        self.items.push_back(publication.clone());
        self.trim(options, now);
        publication
    }

    /// Drops what exceeds `options.size` and what is older than `options.ttl` at `now_ms`.
    pub fn trim(&mut self, options: &HistoryOptions, now_ms: u64) {
        while self.items.len() > options.size {
            self.items.pop_front();
        }
        let ttl = options.ttl.as_millis() as u64;
        while self
            .items
            .front()
            .is_some_and(|p| p.time_ms.saturating_add(ttl) <= now_ms)
        {
            self.items.pop_front();
        }
    }

    /// Empties the stream, keeping the epoch and the top (offsets never go back).
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Reads publications. With `since`, the epoch must match and, going
    /// forward, nothing after `since` may have been trimmed: a client is
    /// either given everything it missed or told it cannot be.
    pub fn read(&self, query: &HistoryQuery) -> Result<HistoryPage, BrokerError> {
        let selected: Vec<Arc<Publication>> = match &query.since {
            Some(since) => {
                if since.epoch != self.epoch || since.offset > self.top {
                    return Err(BrokerError::UnrecoverablePosition);
                }
                if query.reverse {
                    self.items
                        .iter()
                        .rev()
                        .filter(|p| p.offset < since.offset)
                        .cloned()
                        .collect()
                } else {
                    let first_kept = self.items.front().map_or(self.top + 1, |p| p.offset);
                    if since.offset < self.top && first_kept > since.offset + 1 {
                        return Err(BrokerError::UnrecoverablePosition);
                    }
                    self.items
                        .iter()
                        .filter(|p| p.offset > since.offset)
                        .cloned()
                        .collect()
                }
            }
            None if query.reverse => self.items.iter().rev().cloned().collect(),
            None => self.items.iter().cloned().collect(),
        };
        let mut publications = selected;
        if let Some(limit) = query.limit {
            publications.truncate(limit);
        }
        Ok(HistoryPage {
            publications,
            position: self.position(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use proptest::prelude::*;

    use super::*;

    fn publication(n: u64, time_ms: u64) -> Publication {
        Publication {
            offset: 0,
            data: Bytes::from(n.to_string()),
            info: None,
            tags: Default::default(),
            time_ms,
        }
    }

    fn options(size: usize, ttl_ms: u64) -> HistoryOptions {
        HistoryOptions {
            size,
            ttl: Duration::from_millis(ttl_ms),
        }
    }

    fn since(stream: &Stream, offset: u64) -> HistoryQuery {
        HistoryQuery {
            since: Some(StreamPosition {
                offset,
                epoch: stream.position().epoch,
            }),
            limit: None,
            reverse: false,
        }
    }

    #[test]
    fn offsets_grow_and_size_trims() {
        let mut s = Stream::new("e".into());
        let opts = options(3, 60_000);
        for n in 1..=5 {
            assert_eq!(s.append(publication(n, 0), &opts).offset, n);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.position().offset, 5);
        // 3, 4 and 5 are kept: a client at 2 missed only those.
        let page = s.read(&since(&s, 2)).unwrap();
        assert_eq!(
            page.publications
                .iter()
                .map(|p| p.offset)
                .collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        // A client at 1 also missed 2, which was trimmed.
        assert_eq!(
            s.read(&since(&s, 1)),
            Err(BrokerError::UnrecoverablePosition)
        );
        assert!(s.read(&since(&s, 5)).unwrap().publications.is_empty());
        assert_eq!(
            s.read(&since(&s, 6)),
            Err(BrokerError::UnrecoverablePosition)
        );
    }

    #[test]
    fn ttl_trims_and_epoch_must_match() {
        let mut s = Stream::new("e1".into());
        let opts = options(100, 1_000);
        s.append(publication(1, 0), &opts);
        s.append(publication(2, 500), &opts);
        s.trim(&opts, 1_200);
        assert_eq!(s.len(), 1);
        let mut other = since(&s, 2);
        other.since.as_mut().unwrap().epoch = "e0".into();
        assert_eq!(s.read(&other), Err(BrokerError::UnrecoverablePosition));
    }

    #[test]
    fn reverse_and_limit() {
        let mut s = Stream::new("e".into());
        let opts = options(10, 60_000);
        for n in 1..=5 {
            s.append(publication(n, 0), &opts);
        }
        let q = HistoryQuery {
            since: None,
            limit: Some(2),
            reverse: true,
        };
        let page = s.read(&q).unwrap();
        assert_eq!(
            page.publications
                .iter()
                .map(|p| p.offset)
                .collect::<Vec<_>>(),
            vec![5, 4]
        );
        let q = HistoryQuery {
            limit: Some(0),
            ..Default::default()
        };
        assert!(s.read(&q).unwrap().publications.is_empty());
        let mut q = since(&s, 3);
        q.reverse = true;
        let back = s.read(&q).unwrap();
        assert_eq!(
            back.publications
                .iter()
                .map(|p| p.offset)
                .collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    proptest! {
        /// Against a model that keeps everything: whatever the sizes, TTLs and
        /// times, a forward read from any known offset either returns exactly
        /// the model's publications after it, in order, or refuses; and it
        /// refuses only when one of them is no longer kept.
        #[test]
        fn recovery_is_exact_or_refused(
            size in 1usize..20,
            ttl in 1u64..100,
            steps in proptest::collection::vec(0u64..10, 1..60),
            from in 0u64..70,
        ) {
            let opts = options(size, ttl);
            let mut stream = Stream::new("e".into());
            let mut model: Vec<(u64, u64)> = Vec::new(); // (offset, time)
            let mut now = 0;
            for (i, dt) in steps.iter().enumerate() {
                now += dt;
                let p = stream.append(publication(i as u64, now), &opts);
                model.push((p.offset, now));
            }
            stream.trim(&opts, now);
            let top = model.len() as u64;
            prop_assert_eq!(stream.position().offset, top);
            let kept_model: Vec<u64> = model
                .iter()
                .filter(|(_, t)| t + ttl > now)
                .map(|(o, _)| *o)
                .collect::<Vec<_>>();
            let kept_model: Vec<u64> = kept_model[kept_model.len().saturating_sub(size)..].to_vec();
            match stream.read(&since(&stream, from)) {
                Ok(page) => {
                    let got: Vec<u64> = page.publications.iter().map(|p| p.offset).collect();
                    let want: Vec<u64> = (from + 1..=top).collect();
                    prop_assert_eq!(&got, &want);
                    prop_assert!(want.iter().all(|o| kept_model.contains(o)));
                }
                Err(_) => {
                    let missing = (from + 1..=top).any(|o| !kept_model.contains(&o));
                    prop_assert!(from > top || missing);
                }
            }
        }
    }
}
