//! Auth on raw endpoints after the handshake: the first-message credential
//! (`{"type":"connect","token":"…"}`), token refresh
//! (`{"type":"refresh","token":"…"}`), and closing at expiry.
//!
//! A client that owes its credential is not in the registry and gets no
//! `connect` event until it is proven: no server API call reaches it and
//! no workflow hears of it.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use switchboard_auth::{Identity, TokenError};
use switchboard_hub::{ConnectionId, Entry, Registration};
use switchboard_protocol::event::{ConnectionInfo, Event};
use switchboard_transport::close::code::POLICY_VIOLATION;
use switchboard_transport::{CloseFrame, Message, OutMessage, Outbound};

use super::deadlines::{unix_millis, Deadline};
use super::handshake::verify;
use crate::endpoint::Endpoint;
use crate::state::AppState;

/// A raw client's control message. Only messages that parse as one and
/// carry a `token` are taken; anything else is data.
#[derive(Deserialize)]
struct ControlMessage {
    #[serde(rename = "type")]
    kind: String,
    token: String,
}

/// Longest control message looked at: a JWT with generous claims fits.
const MAX_CONTROL_LEN: usize = 16 * 1024;

fn parse_control(message: &Message) -> Option<ControlMessage> {
    let text = message.as_text()?;
    if text.len() > MAX_CONTROL_LEN || !text.contains("\"token\"") {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// What the handler does with a message after auth looked at it.
pub enum Seen {
    /// Ordinary data: forward it to the sinks.
    Data,
    /// A control message, answered here.
    Handled,
}

/// One raw connection's auth state.
pub struct RawAuth {
    state: AppState,
    endpoint: Arc<Endpoint>,
    id: ConnectionId,
    outbound: Outbound,
    deadline: Arc<Deadline>,
    /// The registry entry, until the credential arrives.
    waiting: Option<Entry>,
    registration: Option<Registration>,
    user: Option<String>,
    /// The token id the connection holds (for `revoke_token`).
    token_id: String,
}

fn close_for(err: TokenError) -> CloseFrame {
    match err {
        TokenError::Expired => CloseFrame::new(POLICY_VIOLATION, "token expired"),
        TokenError::Invalid(_) => CloseFrame::new(POLICY_VIOLATION, "invalid token"),
    }
}

impl RawAuth {
    /// Auth state for a connection that proved itself in the handshake
    /// (`identity`), or that owes its credential (`waiting` holds its
    /// registry entry).
    pub fn new(
        state: AppState,
        endpoint: Arc<Endpoint>,
        id: ConnectionId,
        outbound: Outbound,
        identity: Option<&Identity>,
        waiting: Option<Entry>,
    ) -> Self {
        let deadline = state.deadlines.register(id, outbound.clone());
        let mut auth = RawAuth {
            state,
            endpoint,
            id,
            outbound,
            deadline,
            waiting,
            registration: None,
            user: None,
            token_id: String::new(),
        };
        if auth.waiting.is_some() {
            let timeout = auth.endpoint.config.auth.connect_timeout.as_millis() as u64;
            auth.deadline.set(
                unix_millis() + timeout,
                CloseFrame::new(POLICY_VIOLATION, "authentication timeout"),
            );
        } else if let Some(identity) = identity {
            auth.proven(identity);
        }
        auth
    }

    /// The client proved itself: its user, its expiry, its token's id.
    fn proven(&mut self, identity: &Identity) {
        self.expire_at(identity.expires_at);
        self.user = Some(identity.user.clone());
        self.state.revoked.release(&self.token_id, self.id);
        self.token_id = identity.token_id.clone();
        let close = CloseFrame::new(POLICY_VIOLATION, "token revoked");
        let revoked = &self.state.revoked;
        revoked.hold(&self.token_id, self.id, self.outbound.clone(), close);
    }

    /// Closes the connection a refresh window after `expires_at`.
    fn expire_at(&self, expires_at: Option<u64>) {
        match expires_at {
            Some(at) => {
                let window = self.state.config.auth.refresh_window.as_millis() as u64;
                let close = CloseFrame::new(POLICY_VIOLATION, "token expired");
                self.deadline.set(at * 1000 + window, close);
            }
            None => self.deadline.clear(),
        }
    }

    fn reply(&self, json: serde_json::Value) {
        let _ = self
            .outbound
            .send(OutMessage::text(Bytes::from(json.to_string())));
    }

    /// Looks at a message: the credential a waiting client owes, or a
    /// refresh. `info` is updated when the client proves who it is.
    pub async fn on_message(
        &mut self,
        info: &mut Arc<ConnectionInfo>,
        message: &Message,
    ) -> Result<Seen, CloseFrame> {
        let control = parse_control(message);
        if self.waiting.is_some() {
            return match control {
                Some(c) if c.kind == "connect" => self.connect(info, &c.token).await,
                _ => Err(CloseFrame::new(POLICY_VIOLATION, "authentication required")),
            };
        }
        match control {
            Some(c) if c.kind == "refresh" => {
                self.refresh(&c.token).await;
                Ok(Seen::Handled)
            }
            _ => Ok(Seen::Data),
        }
    }

    async fn checked(&self, token: &str) -> Result<Identity, TokenError> {
        let identity = verify(&self.state, &self.endpoint, token).await?;
        if self.state.revoked.contains(&identity.token_id) {
            return Err(TokenError::Invalid("revoked"));
        }
        Ok(identity)
    }

    async fn connect(
        &mut self,
        info: &mut Arc<ConnectionInfo>,
        token: &str,
    ) -> Result<Seen, CloseFrame> {
        let identity = self.checked(token).await.map_err(close_for)?;
        let Some(mut entry) = self.waiting.take() else {
            return Ok(Seen::Handled);
        };
        *info = Arc::new(ConnectionInfo {
            user: Some(identity.user.as_str().into()),
            ..(**info).clone()
        });
        entry.info = info.clone();
        self.registration = Some(self.state.hub.register(self.id, entry));
        self.state.bus.emit(Event::connect(info.clone()));
        crate::held::user_connected(&self.state, info);
        self.proven(&identity);
        self.reply(serde_json::json!({
            "type": "connected",
            "user": identity.user,
            "expires_at": identity.expires_at,
        }));
        Ok(Seen::Handled)
    }

    async fn refresh(&mut self, token: &str) {
        let error = |code: &str, message: &str| serde_json::json!({"type": "error", "error": code, "message": message});
        match self.checked(token).await {
            Ok(identity) if Some(&identity.user) == self.user.as_ref() => {
                self.proven(&identity);
                self.reply(serde_json::json!({
                    "type": "refreshed",
                    "expires_at": identity.expires_at,
                }));
            }
            Ok(_) => self.reply(error("invalid_token", "the token names another user")),
            Err(TokenError::Expired) => self.reply(error("token_expired", "token expired")),
            Err(TokenError::Invalid(_)) => self.reply(error("invalid_token", "invalid token")),
        }
    }

    /// The registration made when a waiting client proved itself.
    pub fn take_registration(&mut self) -> Option<Registration> {
        self.registration.take()
    }
}

impl Drop for RawAuth {
    fn drop(&mut self) {
        self.state.deadlines.unregister(&self.id);
        self.state.revoked.release(&self.token_id, self.id);
    }
}
