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

use super::session::{close, ChannelsSession};
use super::token::{self, Identity, TokenError};

/// Seconds from now until `expires_at`, for the `ttl` fields.
fn ttl(expires_at: Option<u64>) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    expires_at.map_or(0, |at| {
        at.saturating_sub(now).min(u64::from(u32::MAX)) as u32
    })
}

impl ChannelsSession {
    /// Checks a token. `Ok(None)`: the reply error was sent.
    fn identify(&self, id: u32, token: &str) -> Result<Option<Identity>, CloseFrame> {
        let secret = &self.state.config.channels.token_hmac_secret;
        if secret.is_empty() {
            let message = "connection tokens are not enabled on this server";
            self.fail(id, ReplyError::new(error::UNAUTHORIZED, message));
            return Ok(None);
        }
        match token::verify(token, secret) {
            Ok(identity) => Ok(Some(identity)),
            // The SDKs fetch a fresh token when told it expired.
            Err(TokenError::Expired) => {
                self.fail(id, ReplyError::new(error::TOKEN_EXPIRED, "token expired"));
                Ok(None)
            }
            Err(TokenError::Invalid) => Err(close(disconnect::INVALID_TOKEN)),
        }
    }

    pub(super) fn connect(&mut self, id: u32, req: ConnectRequest) -> Result<(), CloseFrame> {
        if self.connected {
            return Err(close(disconnect::BAD_REQUEST));
        }
        let identity = if req.token.is_empty() {
            if !self.state.config.channels.allow_anonymous {
                let message = "anonymous connections are not allowed";
                self.fail(id, ReplyError::new(error::UNAUTHORIZED, message));
                return Ok(());
            }
            None
        } else {
            match self.identify(id, &req.token)? {
                Some(identity) => Some(identity),
                None => return Ok(()),
            }
        };
        let expires_at = identity.as_ref().and_then(|i| i.expires_at);
        if let Some(identity) = identity {
            self.set_identity(identity);
        }
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
            data: None,
            subs: BTreeMap::new(),
            ping: config.ping_interval.as_secs().max(1) as u32,
            pong: true,
            node: &self.state.node_uid,
        };
        self.reply(id, &Reply::Connect(result));
        Ok(())
    }

    /// The token's user becomes the connection's, everywhere it is shown.
    fn set_identity(&mut self, identity: Identity) {
        self.client = Arc::new(ClientInfo {
            user: identity.user.clone(),
            client: self.conn.id.clone(),
            conn_info: identity.info,
            chan_info: None,
        });
        self.conn = Arc::new(ConnectionInfo {
            user: Some(identity.user.clone()),
            ..(*self.conn).clone()
        });
        self.state.hub.update_info(self.id, self.conn.clone());
        self.state.users.connected(&self.conn);
        self.user = Some(identity.user);
    }

    /// `refresh`: a new token for the same user moves the expiry.
    pub(super) fn refresh(&mut self, id: u32, req: RefreshRequest) -> Result<(), CloseFrame> {
        let Some(identity) = self.identify(id, &req.token)? else {
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
        Ok(())
    }
}
