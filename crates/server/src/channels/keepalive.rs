//! The protocol-level ping of `channels` sessions: every `ping_interval`
//! the server sends `{}`; a client that has not answered `{}` within
//! `pong_timeout` is disconnected with 3012 "no pong"; a connection whose
//! token expired and was not refreshed within `auth.refresh_window` is
//! disconnected with 3005 "expired".
//! One task walks every session, so a connection costs three atomics here,
//! not a timer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_hub::ConnectionId;
use switchboard_protocol::client::disconnect;
use switchboard_transport::{CloseFrame, OutMessage, Outbound};
use tokio_util::sync::CancellationToken;

use switchboard_hub::ChannelHub;

use crate::auth::deadlines::unix_millis;

/// One session's ping state.
pub struct PingState {
    outbound: Outbound,
    /// Milliseconds since the registry's start when the last ping was sent.
    last_ping: AtomicU64,
    /// When the unanswered ping was sent (0: none pending).
    awaiting_since: AtomicU64,
    /// When the connection's token expires (Unix seconds; 0: never).
    expires_at: AtomicU64,
    /// Subscriptions made with an expiring subscription token: channel →
    /// Unix seconds. Touched at subscribe, `sub_refresh` and unsubscribe.
    sub_expiries: Mutex<HashMap<String, u64>>,
}

impl PingState {
    /// The client answered.
    pub fn pong(&self) {
        self.awaiting_since.store(0, Ordering::Relaxed);
    }

    /// Sets (or, after a refresh, moves) the expiry.
    pub fn set_expiry(&self, unix_seconds: Option<u64>) {
        self.expires_at
            .store(unix_seconds.unwrap_or(0), Ordering::Relaxed);
    }

    fn sub_expiries(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.sub_expiries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets, moves (`sub_refresh`) or clears a subscription's expiry.
    pub fn set_sub_expiry(&self, channel: &str, unix_seconds: Option<u64>) {
        match unix_seconds {
            Some(at) => self.sub_expiries().insert(channel.to_owned(), at),
            None => self.sub_expiries().remove(channel),
        };
    }

    /// Removes and returns the subscriptions expired before `unix_ms`.
    fn take_expired_subs(&self, unix_ms: u64, window: u64) -> Vec<String> {
        let mut subs = self.sub_expiries();
        if subs.is_empty() {
            return Vec::new();
        }
        let expired: Vec<String> = subs
            .iter()
            .filter(|(_, at)| unix_ms >= **at * 1000 + window)
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in &expired {
            subs.remove(channel);
        }
        expired
    }
}

/// Every `channels` session's ping state.
pub struct KeepAlive {
    started: Instant,
    sessions: Mutex<HashMap<ConnectionId, Arc<PingState>>>,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl KeepAlive {
    // std Mutex: touched at connect, disconnect and once per tick.
    fn sessions(&self) -> MutexGuard<'_, HashMap<ConnectionId, Arc<PingState>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        // Never 0, which means "not awaiting".
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// Starts pinging a session once it has connected.
    pub fn register(&self, id: ConnectionId, outbound: Outbound) -> Arc<PingState> {
        let state = Arc::new(PingState {
            outbound,
            last_ping: AtomicU64::new(self.now()),
            awaiting_since: AtomicU64::new(0),
            expires_at: AtomicU64::new(0),
            sub_expiries: Mutex::new(HashMap::new()),
        });
        self.sessions().insert(id, state.clone());
        state
    }

    /// Moves a session's expiry (server API `refresh`); false if it is not a connected session.
    pub fn set_expiry(&self, id: &ConnectionId, unix_seconds: Option<u64>) -> bool {
        match self.sessions().get(id) {
            Some(state) => {
                state.set_expiry(unix_seconds);
                true
            }
            None => false,
        }
    }

    /// Stops pinging a session.
    pub fn unregister(&self, id: &ConnectionId) {
        self.sessions().remove(id);
    }

    /// Pings and checks every session until `stop` is cancelled.
    pub async fn run(
        self: Arc<Self>,
        channels: ChannelHub,
        interval: Duration,
        timeout: Duration,
        refresh_window: Duration,
        stop: CancellationToken,
    ) {
        let window = refresh_window.as_millis() as u64;
        let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ping = OutMessage::text(Bytes::from_static(b"{}"));
        let (interval, timeout) = (interval.as_millis() as u64, timeout.as_millis() as u64);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now = self.now();
            let unix = unix_millis();
            let mut expired_subs = Vec::new();
            for (id, state) in self.sessions().iter() {
                for channel in state.take_expired_subs(unix, window) {
                    expired_subs.push((*id, channel));
                }
                let awaiting = state.awaiting_since.load(Ordering::Relaxed);
                let expires_at = state.expires_at.load(Ordering::Relaxed);
                if expires_at != 0 && unix >= expires_at * 1000 + window {
                    // Not refreshed in time: the SDK reconnects with a fresh token.
                    let expired = disconnect::EXPIRED;
                    state
                        .outbound
                        .close(CloseFrame::new(expired.code, expired.reason));
                } else if awaiting != 0 && now.saturating_sub(awaiting) >= timeout {
                    let no_pong = disconnect::NO_PONG;
                    state
                        .outbound
                        .close(CloseFrame::new(no_pong.code, no_pong.reason));
                } else if now.saturating_sub(state.last_ping.load(Ordering::Relaxed)) >= interval {
                    state.last_ping.store(now, Ordering::Relaxed);
                    if awaiting == 0 {
                        state.awaiting_since.store(now, Ordering::Relaxed);
                    }
                    let _ = state.outbound.send(ping.clone());
                }
            }
            // Rare (a token not refreshed): a task each, outside the lock,
            // since leaving a channel waits on the broker.
            for (id, channel) in expired_subs {
                let channels = channels.clone();
                tokio::spawn(async move { channels.expire_subscription(id, &channel).await });
            }
        }
    }
}
