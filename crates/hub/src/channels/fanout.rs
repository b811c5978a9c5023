//! The broker's view of this node: who is subscribed to what, and the
//! callback that delivers each publication to them.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_broker::{BrokerHandler, ClientInfo, Publication, StreamPosition};
use switchboard_transport::Outbound;

use super::encode::{presence_frame, publication_frame};
use super::gaps::GapQueue;
use super::options::ChannelOptions;
use super::RECOVERY_BUFFER_LIMIT;
use crate::flush::{Flusher, Flushes};
use crate::registry::ConnectionId;

pub(crate) struct Subscriber {
    pub outbound: Outbound,
    /// While the subscribe reads history, publications wait here so none
    /// is lost or sent before the subscribe reply.
    pub pending: Option<Vec<Arc<Publication>>>,
    /// The buffer hit its limit: the subscribe must fail.
    pub overflowed: bool,
}

pub(crate) struct Channel {
    pub options: ChannelOptions,
    pub subscribers: HashMap<ConnectionId, Subscriber>,
    /// History channels: the position of the last publication delivered
    /// live, so a gap (a lost pub/sub message, a broker outage) is noticed.
    pub position: Option<StreamPosition>,
    /// While a gap is filled from history, live publications wait here in
    /// arrival order (bounded by [`RECOVERY_BUFFER_LIMIT`]).
    pub held: Option<Vec<(Arc<Publication>, StreamPosition)>>,
}

impl Channel {
    pub fn new(options: ChannelOptions) -> Self {
        Self {
            options,
            subscribers: HashMap::new(),
            position: None,
            held: None,
        }
    }

    /// Whether a publication from the broker goes out now, is one already
    /// delivered, or must wait behind a gap.
    fn admit(&mut self, publication: &Publication, position: &StreamPosition) -> Admit {
        if publication.offset == 0 || self.options.history.is_none() {
            return Admit::Deliver; // not kept: nothing to order it by
        }
        if self.held.is_some() {
            return Admit::Hold;
        }
        match &self.position {
            Some(last) if last.epoch != position.epoch => Admit::Hold,
            Some(last) if publication.offset <= last.offset => Admit::Duplicate,
            Some(last) if publication.offset > last.offset + 1 => Admit::Hold,
            _ => {
                self.position = Some(StreamPosition {
                    offset: publication.offset,
                    epoch: position.epoch.clone(),
                });
                Admit::Deliver
            }
        }
    }

    /// Queues a publication for every subscriber (or its subscribe
    /// buffer); `flushes` lists the subscribers it leaves to a flush.
    pub fn deliver(
        &mut self,
        channel: &str,
        publication: &Arc<Publication>,
        flushes: &mut Flushes,
    ) {
        let Some(frame) = publication_frame(channel, publication) else {
            tracing::warn!(channel, "publication data is not JSON; not delivered");
            return;
        };
        let skip: Option<ConnectionId> = match self.options.echo_to_publisher {
            true => None,
            false => publication
                .info
                .as_ref()
                .and_then(|i| i.client.parse().ok()),
        };
        for (id, sub) in self.subscribers.iter_mut() {
            if Some(*id) == skip {
                continue;
            }
            match &mut sub.pending {
                Some(buffer) if buffer.len() < RECOVERY_BUFFER_LIMIT => {
                    buffer.push(publication.clone())
                }
                Some(_) => sub.overflowed = true,
                // A full queue is the outbound policy's business (close or drop).
                None => {
                    let _ = flushes.send(id, &sub.outbound, frame.clone());
                }
            }
        }
    }

    /// Delivers what history returned after the last delivered position,
    /// then what was held, in offset order. `Err` when the stream is not
    /// the one delivered from (epoch changed) or the held buffer
    /// overflowed; `Ok(true)` when a gap remains (more arrived since the
    /// read) and another read is needed.
    pub fn fill_gap(
        &mut self,
        channel: &str,
        missed: Vec<Arc<Publication>>,
        epoch: &str,
        flushes: &mut Flushes,
    ) -> Result<bool, GapUnfillable> {
        let held = self.held.take().unwrap_or_default();
        if held.len() >= RECOVERY_BUFFER_LIMIT {
            return Err(GapUnfillable);
        }
        let Some(mut last) = self.position.clone() else {
            return Ok(false);
        };
        if last.epoch != epoch {
            return Err(GapUnfillable);
        }
        let from = last.clone();
        let missed = missed.into_iter().map(|p| (p, from.clone()));
        let mut rest = missed.chain(held);
        while let Some((publication, position)) = rest.next() {
            if position.epoch != last.epoch {
                return Err(GapUnfillable);
            }
            if publication.offset <= last.offset {
                continue;
            }
            if publication.offset > last.offset + 1 {
                let mut still_held = vec![(publication, position)];
                still_held.extend(rest);
                self.held = Some(still_held);
                self.position = Some(last);
                return Ok(true);
            }
            last.offset = publication.offset;
            self.deliver(channel, &publication, flushes);
        }
        self.position = Some(last);
        Ok(false)
    }
}

/// The gap cannot be filled from history: subscribers must subscribe again.
#[derive(Debug)]
pub(crate) struct GapUnfillable;

enum Admit {
    Deliver,
    Duplicate,
    Hold,
}

const SHARDS: usize = 32;

/// Channel subscriptions of this node, sharded by channel name.
pub struct Fanout {
    shards: Box<[Mutex<HashMap<String, Channel>>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Channels whose live delivery has a gap to fill from history.
    pub(crate) gaps: GapQueue,
    /// Writes what deliveries leave to a flush.
    pub(crate) flusher: Arc<Flusher>,
}

impl Default for Fanout {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
            gaps: GapQueue::default(),
            flusher: Flusher::new(),
        }
    }
}

impl Fanout {
    // std Mutex: map work and non-blocking queue pushes only.
    pub(crate) fn shard(&self, channel: &str) -> MutexGuard<'_, HashMap<String, Channel>> {
        let index = (self.hasher.hash_one(channel) as usize) % SHARDS;
        self.shards[index].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn for_each_channel(&self, mut f: impl FnMut(&str, &Channel)) {
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            for (name, channel) in shard.iter() {
                f(name, channel);
            }
        }
    }
}

impl BrokerHandler for Fanout {
    fn on_publication(
        &self,
        channel: &str,
        publication: Arc<Publication>,
        position: &StreamPosition,
    ) {
        let mut shard = self.shard(channel);
        let Some(ch) = shard.get_mut(channel) else {
            return;
        };
        match ch.admit(&publication, position) {
            Admit::Deliver => {
                let mut flushes = Flushes::default();
                ch.deliver(channel, &publication, &mut flushes);
                drop(shard);
                self.flusher.submit(flushes);
            }
            Admit::Duplicate => {}
            Admit::Hold => {
                let held = ch.held.get_or_insert_with(Vec::new);
                // Past the limit the gap is reported unfillable by `fill_gap`.
                if held.len() < RECOVERY_BUFFER_LIMIT {
                    held.push((publication, position.clone()));
                }
                drop(shard);
                self.gaps.request(channel);
            }
        }
    }

    fn on_resubscribed(&self) {
        // Anything published while the connection was down is in history
        // only: every history channel reads what follows its position.
        let mut channels = Vec::new();
        self.for_each_channel(|name, ch| {
            if ch.position.is_some() {
                channels.push(name.to_owned());
            }
        });
        for channel in channels {
            self.gaps.request(&channel);
        }
    }

    fn on_join(&self, channel: &str, info: Arc<ClientInfo>) {
        self.presence_event(channel, &info, false);
    }

    fn on_leave(&self, channel: &str, info: Arc<ClientInfo>) {
        self.presence_event(channel, &info, true);
    }
}

impl Fanout {
    fn presence_event(&self, channel: &str, info: &ClientInfo, leave: bool) {
        let shard = self.shard(channel);
        let Some(ch) = shard.get(channel) else {
            return;
        };
        if !ch.options.join_leave {
            return;
        }
        let frame = presence_frame(channel, info, leave);
        for sub in ch.subscribers.values().filter(|s| s.pending.is_none()) {
            let _ = sub.outbound.send(frame.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use switchboard_broker::HistoryOptions;

    use super::*;

    fn channel_with_history() -> Channel {
        Channel::new(ChannelOptions {
            history: Some(HistoryOptions {
                size: 100,
                ttl: Duration::from_secs(60),
            }),
            ..ChannelOptions::default()
        })
    }

    fn publication(offset: u64) -> Arc<Publication> {
        Arc::new(Publication {
            offset,
            data: Bytes::from_static(b"{}"),
            info: None,
            tags: Default::default(),
            time_ms: 0,
        })
    }

    fn at(offset: u64, epoch: &str) -> StreamPosition {
        StreamPosition {
            offset,
            epoch: epoch.to_owned(),
        }
    }

    /// Feeds live publications as the broker would; returns the verdicts.
    fn live(ch: &mut Channel, offsets: &[u64], epoch: &str) -> Vec<&'static str> {
        offsets
            .iter()
            .map(|&o| {
                let p = publication(o);
                match ch.admit(&p, &at(o, epoch)) {
                    Admit::Deliver => "deliver",
                    Admit::Duplicate => "duplicate",
                    Admit::Hold => {
                        ch.held.get_or_insert_with(Vec::new).push((p, at(o, epoch)));
                        "hold"
                    }
                }
            })
            .collect()
    }

    #[test]
    fn in_order_is_delivered_repeats_skipped_and_a_gap_holds_what_follows() {
        let mut ch = channel_with_history();
        let verdicts = live(&mut ch, &[1, 2, 2, 4, 5], "e");
        assert_eq!(
            verdicts,
            ["deliver", "deliver", "duplicate", "hold", "hold"]
        );
        assert_eq!(ch.position, Some(at(2, "e")));
    }

    #[test]
    fn history_fills_the_gap_then_held_publications_follow_once() {
        let mut ch = channel_with_history();
        live(&mut ch, &[1, 2, 5, 6], "e");
        let missed = vec![publication(3), publication(4), publication(5)];
        assert!(matches!(
            ch.fill_gap("c", missed, "e", &mut Flushes::default()),
            Ok(false)
        ));
        assert_eq!(ch.position, Some(at(6, "e")));
        assert!(ch.held.is_none());
        assert_eq!(live(&mut ch, &[7], "e"), ["deliver"]);
    }

    #[test]
    fn a_gap_history_did_not_cover_yet_stays_held() {
        let mut ch = channel_with_history();
        live(&mut ch, &[1, 5], "e");
        assert!(matches!(
            ch.fill_gap("c", vec![publication(2)], "e", &mut Flushes::default()),
            Ok(true)
        ));
        assert_eq!(ch.position, Some(at(2, "e")));
        assert_eq!(ch.held.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn another_epoch_cannot_be_filled() {
        let mut ch = channel_with_history();
        live(&mut ch, &[1], "old");
        assert_eq!(live(&mut ch, &[1], "new"), ["hold"]);
        assert!(ch
            .fill_gap("c", Vec::new(), "old", &mut Flushes::default())
            .is_err());
        let mut ch = channel_with_history();
        live(&mut ch, &[1], "old");
        assert!(ch
            .fill_gap("c", Vec::new(), "new", &mut Flushes::default())
            .is_err());
    }

    #[test]
    fn publications_without_offsets_are_always_delivered() {
        let mut ch = channel_with_history();
        live(&mut ch, &[3], "e");
        assert_eq!(live(&mut ch, &[0, 0], "e"), ["deliver", "deliver"]);
        assert_eq!(ch.position, Some(at(3, "e")));
    }
}
