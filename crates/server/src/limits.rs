//! Abuse limits of an endpoint (`[endpoints.limits]`): open connections
//! per client address, and message rates per connection and per user
//! (token buckets). Excess messages are answered with an error; past
//! `excess_before_close` of them the connection is closed with 1008.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use switchboard_config::EndpointLimits;
use switchboard_transport::close::code::POLICY_VIOLATION;
use switchboard_transport::CloseFrame;

/// Open connections per client address of one endpoint.
#[derive(Debug, Default)]
pub struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection slot of one address; given back on drop.
#[derive(Debug)]
pub struct IpSlot {
    owner: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn open(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `ip`, unless it already has `max` open.
    pub fn try_take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut open = self.open();
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            owner: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(burst: f64) -> Self {
        Bucket {
            tokens: burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Every user's bucket on one endpoint (for `user_messages_per_second`).
#[derive(Debug, Default)]
pub struct UserRates {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Above this many users the map drops buckets that have refilled: a full
/// bucket is the same as none.
const PRUNE_ABOVE: usize = 10_000;

impl UserRates {
    fn take(&self, user: &str, rate: f64, burst: f64) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| b.clone().take(rate, burst, now) && b.tokens + 1.0 < burst);
        }
        buckets
            .entry(user.to_owned())
            .or_insert_with(|| Bucket::full(burst))
            .take(rate, burst, now)
    }
}

/// What to do with a client's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limits.
    Pass,
    /// Over a limit: answer with an error, drop the message.
    Refuse,
    /// Over a limit too often: close with this frame.
    Close(CloseFrame),
}

/// One connection's message limits.
#[derive(Debug)]
pub struct MessageLimiter {
    limits: EndpointLimits,
    own: Bucket,
    users: Arc<UserRates>,
    excess: u32,
    /// Messages refused, for `/metrics`.
    refused: Arc<AtomicU64>,
}

impl MessageLimiter {
    /// A limiter when the endpoint limits message rates at all.
    pub fn new(
        limits: &EndpointLimits,
        users: Arc<UserRates>,
        refused: Arc<AtomicU64>,
    ) -> Option<Self> {
        let limited = limits.messages_per_second > 0.0 || limits.user_messages_per_second > 0.0;
        limited.then(|| MessageLimiter {
            own: Bucket::full(f64::from(limits.message_burst)),
            limits: limits.clone(),
            users,
            excess: 0,
            refused,
        })
    }

    /// Counts one message from a connection of `user` (if any).
    pub fn check(&mut self, user: Option<&str>) -> Verdict {
        let l = &self.limits;
        let burst = f64::from(l.message_burst);
        let now = Instant::now();
        let own_ok =
            l.messages_per_second <= 0.0 || self.own.take(l.messages_per_second, burst, now);
        let user_ok = match user {
            Some(user) if own_ok && l.user_messages_per_second > 0.0 => {
                self.users.take(user, l.user_messages_per_second, burst)
            }
            _ => true,
        };
        if own_ok && user_ok {
            return Verdict::Pass;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        self.excess += 1;
        if self.excess > l.excess_before_close {
            return Verdict::Close(CloseFrame::new(POLICY_VIOLATION, "rate limit exceeded"));
        }
        Verdict::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: f64, burst: u32, user_rate: f64, excess: u32) -> EndpointLimits {
        EndpointLimits {
            messages_per_second: rate,
            message_burst: burst,
            user_messages_per_second: user_rate,
            excess_before_close: excess,
            ..EndpointLimits::default()
        }
    }

    fn limiter(l: &EndpointLimits, users: &Arc<UserRates>) -> MessageLimiter {
        MessageLimiter::new(l, users.clone(), Arc::default()).unwrap()
    }

    #[test]
    fn a_burst_passes_then_excess_is_refused_then_closed() {
        let users = Arc::default();
        let mut m = limiter(&limits(1.0, 3, 0.0, 2), &users);
        assert_eq!(
            [m.check(None), m.check(None), m.check(None)],
            [Verdict::Pass, Verdict::Pass, Verdict::Pass]
        );
        assert_eq!(m.check(None), Verdict::Refuse);
        assert_eq!(m.check(None), Verdict::Refuse);
        assert!(matches!(m.check(None), Verdict::Close(f) if f.code == 1008));
    }

    #[test]
    fn no_limits_no_limiter() {
        assert!(
            MessageLimiter::new(&EndpointLimits::default(), Arc::default(), Arc::default())
                .is_none()
        );
    }

    #[test]
    fn a_user_shares_one_bucket_across_connections() {
        let users = Arc::default();
        let l = limits(0.0, 2, 1.0, 10);
        let (mut a, mut b) = (limiter(&l, &users), limiter(&l, &users));
        assert_eq!(a.check(Some("u")), Verdict::Pass);
        assert_eq!(b.check(Some("u")), Verdict::Pass);
        assert_eq!(a.check(Some("u")), Verdict::Refuse);
        assert_eq!(
            b.check(Some("v")),
            Verdict::Pass,
            "another user has their own bucket"
        );
    }

    #[test]
    fn per_ip_slots_are_given_back() {
        let per_ip = Arc::new(PerIp::default());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = per_ip.try_take(ip, 2).unwrap();
        let _b = per_ip.try_take(ip, 2).unwrap();
        assert!(per_ip.try_take(ip, 2).is_none());
        assert!(per_ip.try_take("192.0.2.2".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(per_ip.try_take(ip, 2).is_some());
    }
}
