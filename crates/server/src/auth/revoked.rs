//! Revoked token ids (`jti`): the server API's `revoke_token` adds one
//! until a given time (the token's own expiry), so a stolen token cannot
//! connect again, and closes the connections holding it, which registered
//! here when they proved themselves with it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use switchboard_auth::unix_now;
use switchboard_hub::ConnectionId;
use switchboard_transport::{CloseFrame, Outbound};

/// A connection authenticated with a token id, and how it is closed.
struct Holder {
    id: ConnectionId,
    outbound: Outbound,
    close: CloseFrame,
}

/// Revoked ids and until when (Unix seconds) each stays revoked.
#[derive(Default)]
pub struct Revoked {
    ids: Mutex<HashMap<String, u64>>,
    holders: Mutex<HashMap<String, Vec<Holder>>>,
}

impl Revoked {
    fn ids(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn holders(&self) -> MutexGuard<'_, HashMap<String, Vec<Holder>>> {
        self.holders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connection `id` holds a token with `token_id` (none if empty).
    pub fn hold(&self, token_id: &str, id: ConnectionId, outbound: Outbound, close: CloseFrame) {
        if token_id.is_empty() {
            return;
        }
        let holder = Holder {
            id,
            outbound,
            close,
        };
        self.holders()
            .entry(token_id.to_owned())
            .or_default()
            .push(holder);
    }

    /// Connection `id` no longer holds `token_id` (it ended, or refreshed).
    pub fn release(&self, token_id: &str, id: ConnectionId) {
        if token_id.is_empty() {
            return;
        }
        let mut holders = self.holders();
        if let Some(list) = holders.get_mut(token_id) {
            list.retain(|h| h.id != id);
            if list.is_empty() {
                holders.remove(token_id);
            }
        }
    }

    /// Revokes `token_id` until `until` and closes its holders; returns
    /// how many were closed.
    pub fn revoke_and_close(&self, token_id: &str, until: u64) -> usize {
        self.revoke(token_id, until);
        let holders = self.holders().remove(token_id).unwrap_or_default();
        for holder in &holders {
            holder.outbound.close(holder.close.clone());
        }
        holders.len()
    }

    /// Refuses `token_id` until `until` (Unix seconds). Entries past their
    /// time are dropped here, so the set holds only live revocations.
    pub fn revoke(&self, token_id: &str, until: u64) {
        let now = unix_now();
        let mut ids = self.ids();
        ids.retain(|_, at| *at > now);
        let at = ids.entry(token_id.to_owned()).or_default();
        *at = (*at).max(until);
    }

    /// Whether `token_id` is revoked now. An empty id (a token without
    /// `jti`) never is.
    pub fn contains(&self, token_id: &str) -> bool {
        !token_id.is_empty() && self.ids().get(token_id).is_some_and(|at| *at > unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocations_last_until_their_time() {
        let revoked = Revoked::default();
        let now = unix_now();
        revoked.revoke("a", now + 60);
        revoked.revoke("b", now - 1);
        assert!(revoked.contains("a"));
        assert!(!revoked.contains("b"));
        assert!(!revoked.contains(""));
        revoked.revoke("c", now + 60);
        assert_eq!(revoked.ids().len(), 2, "the stale entry was dropped");
    }
}
