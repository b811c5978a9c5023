//! Who may subscribe, publish, and read presence and history: the
//! namespace's [`Access`] level against what the connection proved.
//!
//! - `anyone`: every client;
//! - `authenticated`: clients connected as a user, and token holders;
//! - `token`: clients holding a token for the channel — a subscription
//!   token (for subscribe; later operations count the subscription made
//!   with it), or a connection token whose `channels`/`subs` claim lists it;
//! - `nobody`: no client (the server API always may).
//!
//! A refusal is error 103 "permission denied", never a disconnect.

use switchboard_config::Access;
use switchboard_hub::channels::channel_users;

use super::session::ChannelsSession;

/// An operation a namespace grants separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Subscribe,
    Publish,
    Presence,
    History,
}

impl ChannelsSession {
    /// The namespace's level for `op` on `channel` (`None`: unknown namespace).
    fn access(&self, channel: &str, op: Operation) -> Option<Access> {
        let o = self.state.config.channels.namespace_options(channel)?;
        Some(match op {
            Operation::Subscribe => o.allow_subscribe,
            Operation::Publish => o.allow_publish,
            Operation::Presence => o.allow_presence,
            Operation::History => o.allow_history,
        })
    }

    /// Whether this connection is subscribed to `channel` with a
    /// subscription token (the server may have ended it since: expiry).
    pub(super) fn holds_grant(&self, channel: &str) -> bool {
        self.granted.contains(channel) && self.state.channels.is_subscribed(&self.id, channel)
    }

    /// Whether this connection may do `op` on `channel`. `with_token`: a
    /// valid subscription token for the channel came with the request.
    pub(super) fn may(&self, channel: &str, op: Operation, with_token: bool) -> bool {
        // A user-limited channel (`ns:name#alice,bob`) is only for its users.
        if let Some(mut users) = channel_users(channel) {
            let me = self.user.as_deref().unwrap_or_default();
            if me.is_empty() || !users.any(|u| u == me) {
                return false;
            }
        }
        let holds_token = with_token
            || self.holds_grant(channel)
            || self.identity.as_ref().is_some_and(|i| i.grants(channel));
        match self.access(channel, op) {
            None | Some(Access::Nobody) => false,
            Some(Access::Token) => holds_token,
            Some(Access::Authenticated) => holds_token || self.user.is_some(),
            Some(Access::Anyone) => true,
        }
    }
}
