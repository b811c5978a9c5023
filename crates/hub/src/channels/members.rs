//! Which channels each `channels` connection is subscribed to, kept in the
//! hub so that the server API can subscribe and unsubscribe connections as
//! well as the connections themselves.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use switchboard_broker::ClientInfo;
use switchboard_transport::Outbound;

use crate::registry::ConnectionId;

pub(crate) struct Member {
    pub outbound: Outbound,
    pub info: Arc<ClientInfo>,
    pub channels: BTreeSet<String>,
}

#[derive(Default)]
pub(crate) struct Members {
    map: Mutex<HashMap<ConnectionId, Member>>,
}

impl Members {
    // std Mutex: map and set work only.
    fn map(&self) -> MutexGuard<'_, HashMap<ConnectionId, Member>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn attach(&self, id: ConnectionId, outbound: Outbound, info: Arc<ClientInfo>) {
        let member = Member {
            outbound,
            info,
            channels: BTreeSet::new(),
        };
        self.map().insert(id, member);
    }

    pub fn detach(&self, id: &ConnectionId) -> Option<Member> {
        self.map().remove(id)
    }

    pub fn get(&self, id: &ConnectionId) -> Option<(Outbound, Arc<ClientInfo>)> {
        self.map()
            .get(id)
            .map(|m| (m.outbound.clone(), m.info.clone()))
    }

    pub fn add(&self, id: &ConnectionId, channel: &str) {
        if let Some(member) = self.map().get_mut(id) {
            member.channels.insert(channel.to_owned());
        }
    }

    pub fn remove(&self, id: &ConnectionId, channel: &str) {
        if let Some(member) = self.map().get_mut(id) {
            member.channels.remove(channel);
        }
    }

    pub fn contains(&self, id: &ConnectionId, channel: &str) -> bool {
        self.map()
            .get(id)
            .is_some_and(|m| m.channels.contains(channel))
    }

    /// Every (channel, member info) pair, copied out of the lock.
    pub fn memberships(&self) -> Vec<(String, Arc<ClientInfo>)> {
        let map = self.map();
        map.values()
            .flat_map(|m| m.channels.iter().map(|c| (c.clone(), m.info.clone())))
            .collect()
    }

    pub fn count(&self, id: &ConnectionId) -> usize {
        self.map().get(id).map_or(0, |m| m.channels.len())
    }
}
