//! One `channels` connection: the protocol state and command dispatch.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use switchboard_auth::Identity;
use switchboard_broker::ClientInfo;
use switchboard_hub::ConnectionId;
use switchboard_protocol::client::{
    disconnect, error, parse_frame, DisconnectCode, Method, Reply, ReplyError,
};
use switchboard_protocol::event::ConnectionInfo;
use switchboard_transport::{CloseFrame, Handler, Message, OutMessage, Outbound};

use super::keepalive::PingState;
use crate::auth::deadlines::{unix_millis, Deadline};
use crate::auth::Admission;
use crate::endpoint::Endpoint;
use crate::limits::{MessageLimiter, Verdict};
use crate::state::AppState;

/// A close frame for a Centrifugo disconnect code.
pub(super) fn close(code: DisconnectCode) -> CloseFrame {
    CloseFrame::new(code.code, code.reason)
}

/// One connection speaking the client protocol.
pub struct ChannelsSession {
    pub(super) state: AppState,
    pub(super) id: ConnectionId,
    pub(super) conn: Arc<ConnectionInfo>,
    pub(super) outbound: Outbound,
    /// Who this connection is in presence and publications.
    pub(super) client: Arc<ClientInfo>,
    pub(super) connected: bool,
    pub(super) ping: Option<Arc<PingState>>,
    /// The user the connect token named (`None`: anonymous).
    pub(super) user: Option<String>,
    /// The endpoint, for its auth settings.
    pub(super) endpoint: Arc<Endpoint>,
    /// Who the client proved to be: in the handshake, then at `connect`.
    pub(super) identity: Option<Identity>,
    /// Closes a client that owes its credential and sends no `connect` in time.
    pub(super) deadline: Option<Arc<Deadline>>,
    /// Channels subscribed with a subscription token.
    pub(super) granted: HashSet<String>,
    /// The endpoint's message rate limits, if any.
    pub(super) limiter: Option<MessageLimiter>,
    /// On SSE and HTTP streaming: the session id the client posts to.
    pub(super) stream_session: Option<String>,
}

impl ChannelsSession {
    /// A session before its `connect` command.
    pub fn new(
        state: AppState,
        endpoint: Arc<Endpoint>,
        id: ConnectionId,
        conn: Arc<ConnectionInfo>,
        outbound: Outbound,
        admission: &Admission,
    ) -> Self {
        let deadline = admission.pending.then(|| {
            let deadline = state.deadlines.register(id, outbound.clone());
            let timeout = endpoint.config.auth.connect_timeout.as_millis() as u64;
            deadline.set(unix_millis() + timeout, close(disconnect::BAD_REQUEST));
            deadline
        });
        let limiter = endpoint.message_limiter();
        let client = Arc::new(ClientInfo {
            user: conn.user.as_deref().unwrap_or_default().to_owned(),
            client: conn.id.clone(),
            conn_info: None,
            chan_info: None,
        });
        Self {
            state,
            id,
            conn,
            outbound,
            client,
            connected: false,
            ping: None,
            user: None,
            endpoint,
            identity: admission.identity.as_deref().cloned(),
            deadline,
            granted: HashSet::new(),
            limiter,
            stream_session: None,
        }
    }

    /// Marks a session on a stream transport: its `connect` reply carries
    /// the id the client names when it posts commands.
    pub fn set_stream_session(&mut self, id: String) {
        self.stream_session = Some(id);
    }

    /// The connection's metadata as it is now (the user is set at connect).
    pub fn connection_info(&self) -> Arc<ConnectionInfo> {
        self.conn.clone()
    }

    /// Queues a reply line.
    pub(super) fn reply(&self, id: u32, reply: &Reply<'_>) {
        let _ = self
            .outbound
            .send(OutMessage::text(Bytes::from(reply.to_line(id))));
    }

    /// After the connection ended: leave every channel, stop pinging.
    pub async fn close(&mut self) {
        if self.deadline.take().is_some() {
            self.state.deadlines.unregister(&self.id);
        }
        if let Some(identity) = &self.identity {
            self.state.revoked.release(&identity.token_id, self.id);
        }
        if let Some(_ping) = self.ping.take() {
            self.state.keepalive.unregister(&self.id);
        }
        self.state.channels.detach(self.id).await;
        if self.user.is_some() {
            self.state.users.disconnected(&self.conn);
        }
    }

    async fn dispatch(&mut self, id: u32, method: Method) -> Result<(), CloseFrame> {
        if !self.connected && !matches!(method, Method::Connect(_)) {
            // The protocol starts with connect; anything else is a client bug.
            return Err(close(disconnect::BAD_REQUEST));
        }
        if !matches!(method, Method::Pong) {
            if let Some(limiter) = &mut self.limiter {
                match limiter.check(self.user.as_deref()) {
                    Verdict::Pass => {}
                    Verdict::Refuse => {
                        let err = ReplyError::new(error::TOO_MANY_REQUESTS, "too many requests");
                        self.fail(id, err);
                        return Ok(());
                    }
                    Verdict::Close(frame) => return Err(frame),
                }
            }
        }
        match method {
            Method::Pong => {
                if let Some(ping) = &self.ping {
                    ping.pong();
                }
            }
            Method::Connect(req) => self.connect(id, req).await?,
            Method::Subscribe(req) => self.subscribe(id, req).await,
            Method::Unsubscribe(req) => self.unsubscribe(id, req).await,
            Method::Publish(req) => self.publish(id, req).await,
            Method::Presence(req) => self.presence(id, req).await,
            Method::PresenceStats(req) => self.presence_stats(id, req).await,
            Method::History(req) => self.history(id, req).await,
            Method::Ping => self.reply(id, &Reply::Ping),
            Method::Send(req) => self.send(req),
            Method::Rpc(req) => self.rpc(id, req).await,
            Method::Refresh(req) => self.refresh(id, req).await?,
            Method::SubRefresh(req) => self.sub_refresh(id, req).await,
        }
        Ok(())
    }
}

impl Handler for ChannelsSession {
    async fn on_message(&mut self, message: Message) -> Result<(), CloseFrame> {
        // Binary frames carry the Protobuf encoding, which is not spoken here.
        let Some(text) = message.as_text() else {
            return Err(close(disconnect::INAPPROPRIATE_PROTOCOL));
        };
        for command in parse_frame(text) {
            let command = command.map_err(|_| close(disconnect::BAD_REQUEST))?;
            let id = command.id;
            let method = command
                .into_method()
                .ok_or(close(disconnect::BAD_REQUEST))?;
            self.dispatch(id, method).await?;
        }
        Ok(())
    }
}
