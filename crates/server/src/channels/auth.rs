//! `connect` and `refresh`: who the client is, and until when.

use std::collections::BTreeMap;
use std::sync::Arc;

use switchboard_broker::ClientInfo;
use switchboard_protocol::client::{
    disconnect, error, ConnectRequest, ConnectResult, RefreshRequest, RefreshResult, Reply,
    ReplyError,
};
use switchboard_protocol::event::ConnectionInfo;
use switchboard_transport::CloseFrame;

use switchboard_auth::{Identity, TokenError};

use super::backend::{json_of, result_data};
use crate::proxy::Kind;
use switchboard_config::AuthMode;

use super::session::{close, ChannelsSession};
use crate::auth::handshake::verify;

/// Seconds from now until `expires_at`, for the `ttl` fields.
pub(super) fn ttl(expires_at: Option<u64>) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    expires_at.map_or(0, |at| {
        at.saturating_sub(now).min(u64::from(u32::MAX)) as u32
    })
}

impl ChannelsSession {
    /// Checks a credential with the endpoint's mode. `Ok(None)`: the reply
    /// error was sent.
    async fn identify(&self, id: u32, token: &str) -> Result<Option<Identity>, CloseFrame> {
        if self.endpoint.config.auth.mode != AuthMode::ApiKey && !self.state.verifier.has_keys() {
            let message = "connection tokens are not enabled on this server";
            self.fail(id, ReplyError::new(error::UNAUTHORIZED, message));
            return Ok(None);
        }
        match verify(&self.state, &self.endpoint, token).await {
            Ok(identity) if self.state.revoked.contains(&identity.token_id) => {
                Err(close(disconnect::INVALID_TOKEN))
            }
            Ok(identity) => Ok(Some(identity)),
            // The SDKs fetch a fresh token when told it expired.
            Err(TokenError::Expired) => {
                self.fail(id, ReplyError::new(error::TOKEN_EXPIRED, "token expired"));
                Ok(None)
            }
            Err(TokenError::Invalid(_)) => Err(close(disconnect::INVALID_TOKEN)),
        }
    }

    pub(super) async fn connect(&mut self, id: u32, req: ConnectRequest) -> Result<(), CloseFrame> {
        if self.connected {
            return Err(close(disconnect::BAD_REQUEST));
        }
        let from_handshake = self.identity.take();
        let mut backend_data = None;
        let identity = if self.endpoint.config.auth.mode == AuthMode::Proxy {
            let mut fields = serde_json::Map::new();
            fields.insert("name".into(), req.name.into());
            fields.insert("version".into(), req.version.into());
            if let Some(data) = json_of(req.data.as_deref()) {
                fields.insert("data".into(), data);
            }
            if !req.token.is_empty() {
                fields.insert("token".into(), req.token.into());
            }
            let Some(result) = self.ask_backend(id, Kind::Connect, fields).await else {
                return Ok(());
            };
            backend_data = result_data(&result);
            Some(crate::proxy::identity(&result))
        } else if req.token.is_empty() {
            if from_handshake.is_none() {
                let required = self.endpoint.config.auth.mode != AuthMode::None;
                if required || !self.state.config.channels.allow_anonymous {
                    let message = "anonymous connections are not allowed";
                    self.fail(id, ReplyError::new(error::UNAUTHORIZED, message));
                    return Ok(());
                }
            }
            from_handshake
        } else {
            let Some(identity) = self.identify(id, &req.token).await? else {
                self.identity = from_handshake;
                return Ok(());
            };
            if from_handshake.is_some_and(|h| h.user != identity.user) {
                // The handshake said someone else: not the same client.
                return Err(close(disconnect::INVALID_TOKEN));
            }
            Some(identity)
        };
        if self.deadline.take().is_some() {
            self.state.deadlines.unregister(&self.id);
        }
        let expires_at = identity.as_ref().and_then(|i| i.expires_at);
        if let Some(identity) = &identity {
            self.set_identity(identity);
            self.hold_token(identity);
        }
        self.identity = identity;
        self.connected = true;
        self.state
            .channels
            .attach(self.id, self.outbound.clone(), self.client.clone());
        let ping = self
            .state
            .keepalive
            .register(self.id, self.outbound.clone());
        ping.set_expiry(expires_at);
        self.ping = Some(ping);
        let config = &self.state.config.channels;
        let result = ConnectResult {
            client: &self.conn.id,
            version: env!("CARGO_PKG_VERSION"),
            expires: expires_at.is_some(),
            ttl: ttl(expires_at),
            data: backend_data.as_deref(),
            subs: BTreeMap::new(),
            ping: config.ping_interval.as_secs().max(1) as u32,
            pong: true,
            node: &self.state.node_uid,
            session: self.stream_session.as_deref().unwrap_or_default(),
        };
        self.reply(id, &Reply::Connect(result));
        Ok(())
    }

    /// Registers the token id for `revoke_token` (and forgets the
    /// previous one after a refresh).
    fn hold_token(&self, identity: &Identity) {
        let revoked = &self.state.revoked;
        if let Some(old) = &self.identity {
            revoked.release(&old.token_id, self.id);
        }
        let close = close(disconnect::INVALID_TOKEN);
        revoked.hold(&identity.token_id, self.id, self.outbound.clone(), close);
    }

    /// The token's user becomes the connection's, everywhere it is shown.
    fn set_identity(&mut self, identity: &Identity) {
        self.client = Arc::new(ClientInfo {
            user: identity.user.clone(),
            client: self.conn.id.clone(),
            conn_info: identity.info.clone(),
            chan_info: None,
        });
        self.conn = Arc::new(ConnectionInfo {
            user: Some(identity.user.as_str().into()),
            ..(*self.conn).clone()
        });
        self.state.hub.update_info(self.id, self.conn.clone());
        crate::held::user_connected(&self.state, &self.conn);
        self.user = Some(identity.user.clone());
    }

    /// `refresh`: a new token for the same user moves the expiry.
    pub(super) async fn refresh(&mut self, id: u32, req: RefreshRequest) -> Result<(), CloseFrame> {
        let Some(identity) = self.identify(id, &req.token).await? else {
            return Ok(());
        };
        if Some(&identity.user) != self.user.as_ref() {
            // A token for someone else is not a refresh.
            return Err(close(disconnect::INVALID_TOKEN));
        }
        if let Some(ping) = &self.ping {
            ping.set_expiry(identity.expires_at);
        }
        let result = RefreshResult {
            client: &self.conn.id,
            version: env!("CARGO_PKG_VERSION"),
            expires: identity.expires_at.is_some(),
            ttl: ttl(identity.expires_at),
        };
        self.reply(id, &Reply::Refresh(result));
        // The new token's channel grants replace the old ones.
        self.hold_token(&identity);
        self.identity = Some(identity);
        Ok(())
    }
}
