//! Which users are online: `user_online` when a user's first connection
//! opens, `user_offline` when the last one closed and none opened within
//! the grace period (a page reload is not an offline/online pair).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use switchboard_protocol::event::{ConnectionInfo, Event};
use switchboard_sinks::EventBus;

struct UserState {
    connections: usize,
    /// Bumped on every connect, so a pending offline check knows it is stale.
    generation: u64,
}

/// Online users and their connection counts.
pub struct Users {
    users: Mutex<HashMap<String, UserState>>,
    bus: EventBus,
    grace: Duration,
}

impl Users {
    /// A tracker emitting to `bus`.
    pub fn new(bus: EventBus, grace: Duration) -> Self {
        Self {
            users: Mutex::new(HashMap::new()),
            bus,
            grace,
        }
    }

    // std Mutex: a map update per connect and disconnect.
    fn users(&self) -> MutexGuard<'_, HashMap<String, UserState>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection of `info.user` opened.
    pub fn connected(&self, info: &Arc<ConnectionInfo>) {
        let Some(user) = &info.user else {
            return;
        };
        let mut users = self.users();
        let state = users.entry(user.to_string()).or_insert(UserState {
            connections: 0,
            generation: 0,
        });
        // A user still in the map is online, or within the grace period.
        let new = state.connections == 0 && state.generation == 0;
        state.connections += 1;
        state.generation += 1;
        drop(users);
        if new {
            self.bus.emit(Event::user(info.clone(), true));
        }
    }

    /// A connection of `info.user` closed.
    pub fn disconnected(self: &Arc<Self>, info: &Arc<ConnectionInfo>) {
        let Some(user) = &info.user else {
            return;
        };
        let generation = {
            let mut users = self.users();
            let Some(state) = users.get_mut(&**user) else {
                return;
            };
            state.connections = state.connections.saturating_sub(1);
            if state.connections > 0 {
                return;
            }
            state.generation
        };
        let this = self.clone();
        let info = info.clone();
        let user = user.clone();
        tokio::spawn(async move {
            tokio::time::sleep(this.grace).await;
            let gone = {
                let mut users = this.users();
                let stale = users
                    .get(&*user)
                    .is_none_or(|s| s.connections > 0 || s.generation != generation);
                if !stale {
                    users.remove(&*user);
                }
                !stale
            };
            if gone {
                this.bus.emit(Event::user(info, false));
            }
        });
    }

    /// Users with at least one connection (or within the grace period).
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.users().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_protocol::event::EventType;

    fn info(user: &str) -> Arc<ConnectionInfo> {
        Arc::new(ConnectionInfo {
            id: "c".into(),
            endpoint: "/c".into(),
            remote_addr: "127.0.0.1:1".into(),
            user_agent: None,
            origin: None,
            subprotocol: None,
            user: Some(user.into()),
            transport: Default::default(),
            connected_at: "t".into(),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn reload_within_grace_is_not_offline() {
        let bus = EventBus::new();
        let mut events = bus.subscribe(16);
        let users = Arc::new(Users::new(bus, Duration::from_secs(5)));
        let alice = info("alice");
        users.connected(&alice);
        users.connected(&alice); // a second tab: no second online
        assert_eq!(events.recv().await.unwrap().event, EventType::UserOnline);
        users.disconnected(&alice);
        users.disconnected(&alice);
        tokio::time::sleep(Duration::from_secs(2)).await;
        users.connected(&alice); // the reload, within the grace period
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(users.count(), 1);
        users.disconnected(&alice);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(events.recv().await.unwrap().event, EventType::UserOffline);
        assert_eq!(users.count(), 0);
    }
}
