//! Each client command: its checks, the hub call, the reply.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use switchboard_auth::{SubscriptionGrant, TokenError};
use switchboard_broker::{ClientInfo, HistoryQuery, StreamPosition};
use switchboard_hub::channels::{client_info_wire, publication_wire, subscribe_result};
use switchboard_hub::{ChannelError, Subscribed, SubscriberRef};
use switchboard_protocol::client::{
    error, ChannelRequest, HistoryRequest, HistoryResult, PresenceResult, PresenceStatsResult,
    PublishRequest, Reply, ReplyError, RpcRequest, RpcResult, SendRequest, SubRefreshRequest,
    SubRefreshResult, SubscribeRequest,
};
use switchboard_protocol::event::Event;
use switchboard_protocol::payload;
use switchboard_transport::OutMessage;

use super::backend::{json_of, result_data};
use super::permissions::Operation;
use super::session::ChannelsSession;
use crate::endpoint::schema_violation;
use crate::proxy::Kind;

/// The protocol error for a refused channel operation.
pub(super) fn reply_error(err: &ChannelError) -> ReplyError {
    let (code, temporary) = match err {
        ChannelError::UnknownChannel => (error::UNKNOWN_CHANNEL, false),
        ChannelError::PermissionDenied => (error::PERMISSION_DENIED, false),
        ChannelError::AlreadySubscribed => (error::ALREADY_SUBSCRIBED, false),
        ChannelError::LimitExceeded => (error::LIMIT_EXCEEDED, false),
        ChannelError::NotAvailable => (error::NOT_AVAILABLE, false),
        ChannelError::UnrecoverablePosition => (error::UNRECOVERABLE_POSITION, false),
        ChannelError::InsufficientState | ChannelError::Broker(_) => (error::INTERNAL, true),
    };
    ReplyError {
        code,
        message: err.to_string(),
        temporary,
    }
}

impl ChannelsSession {
    /// Replies with an error; refusals by a permission or a limit are
    /// counted for `/metrics`.
    pub(super) fn fail(&self, id: u32, err: ReplyError) {
        let counters = &self.endpoint.counters;
        let counter = match err.code {
            error::PERMISSION_DENIED => Some(&counters.refused_permission),
            error::LIMIT_EXCEEDED => Some(&counters.refused_subscription_limit),
            _ => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.reply(id, &Reply::Error(err));
    }

    /// A channel name the server accepts: not empty, not longer than
    /// `channels.channel_max_length`, no whitespace or control characters.
    fn check_channel(&self, id: u32, channel: &str) -> bool {
        let max = self.state.config.channels.channel_max_length;
        let problem = if channel.is_empty() {
            Some("channel is required".to_owned())
        } else if channel.len() > max {
            Some(format!("channel is longer than {max} bytes"))
        } else if channel.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("channel contains whitespace or control characters".to_owned())
        } else {
            None
        };
        match problem {
            Some(message) => {
                let counter = &self.endpoint.counters.refused_channel_name;
                counter.fetch_add(1, Ordering::Relaxed);
                self.fail(id, ReplyError::new(error::BAD_REQUEST, message));
                false
            }
            None => true,
        }
    }

    pub(super) async fn subscribe(&mut self, id: u32, req: SubscribeRequest) {
        let channel = req.channel;
        if !self.check_channel(id, &channel) {
            return;
        }
        if self.state.channels.is_subscribed(&self.id, &channel) {
            return self.fail(id, reply_error(&ChannelError::AlreadySubscribed));
        }
        if self.state.channels.subscription_count(&self.id)
            >= self.state.config.channels.max_channels_per_connection
        {
            return self.fail(id, reply_error(&ChannelError::LimitExceeded));
        }
        if let Err(err) = self.state.channels.options(&channel) {
            return self.fail(id, reply_error(&err));
        }
        let grant = if req.token.is_empty() {
            None
        } else {
            match self.subscription_grant(&channel, &req.token).await {
                Ok(grant) => Some(grant),
                Err(err) => return self.fail(id, err),
            }
        };
        if !self.may(&channel, Operation::Subscribe, grant.is_some()) {
            return self.fail(id, reply_error(&ChannelError::PermissionDenied));
        }
        if self.proxied(&channel, Kind::Subscribe) {
            let mut fields = Map::new();
            fields.insert("channel".into(), Value::from(channel.as_str()));
            if !req.token.is_empty() {
                fields.insert("token".into(), Value::from(req.token.as_str()));
            }
            if self
                .ask_backend(id, Kind::Subscribe, fields)
                .await
                .is_none()
            {
                return;
            }
        }
        // A subscription token's `info` is this subscription's channel info.
        let info = match grant.as_ref().and_then(|g| g.info.clone()) {
            Some(chan_info) => Arc::new(ClientInfo {
                chan_info: Some(chan_info),
                ..(*self.client).clone()
            }),
            None => self.client.clone(),
        };
        let recover = req.recover.then_some(StreamPosition {
            offset: req.offset,
            epoch: req.epoch,
        });
        let who = SubscriberRef {
            id: self.id,
            outbound: &self.outbound,
            info: &info,
        };
        let expires_at = grant.as_ref().and_then(|g| g.expires_at);
        let build_reply = |outcome: &Subscribed| {
            let mut result = subscribe_result(outcome);
            // The SDKs send `sub_refresh` before `ttl` runs out.
            result.expires = expires_at.is_some();
            result.ttl = super::auth::ttl(expires_at);
            let line = Reply::Subscribe(result).to_line(id);
            OutMessage::text(Bytes::from(line))
        };
        let subscribed = self
            .state
            .channels
            .subscribe(who, &channel, recover, build_reply)
            .await;
        match subscribed {
            Ok(_) if grant.is_some() => {
                if let Some(ping) = &self.ping {
                    ping.set_sub_expiry(&channel, expires_at);
                }
                self.granted.insert(channel);
            }
            Ok(_) => {}
            Err(err) => self.fail(id, reply_error(&err)),
        }
    }

    /// Checks a subscription token: valid, for this channel, issued to this
    /// connection's user. The error is the reply to send.
    async fn subscription_grant(
        &self,
        channel: &str,
        token: &str,
    ) -> Result<SubscriptionGrant, ReplyError> {
        let denied = || reply_error(&ChannelError::PermissionDenied);
        match self.state.verifier.subscription_token(token).await {
            Ok(grant)
                if grant.channel == channel
                    && grant.user == self.user.as_deref().unwrap_or_default() =>
            {
                Ok(grant)
            }
            // The SDKs fetch a new token on 109.
            Err(TokenError::Expired) => Err(ReplyError::new(error::TOKEN_EXPIRED, "token expired")),
            Ok(_) | Err(TokenError::Invalid(_)) => Err(denied()),
        }
    }

    pub(super) async fn unsubscribe(&mut self, id: u32, req: ChannelRequest) {
        let channels = &self.state.channels;
        channels
            .unsubscribe(self.id, &self.client, &req.channel)
            .await;
        self.granted.remove(&req.channel);
        if let Some(ping) = &self.ping {
            ping.set_sub_expiry(&req.channel, None);
        }
        self.reply(id, &Reply::Unsubscribe);
    }

    pub(super) async fn publish(&mut self, id: u32, req: PublishRequest) {
        if !self.check_channel(id, &req.channel) {
            return;
        }
        if let Err(err) = self.state.channels.options(&req.channel) {
            return self.fail(id, reply_error(&err));
        }
        if !self.may(&req.channel, Operation::Publish, false) {
            return self.fail(id, reply_error(&ChannelError::PermissionDenied));
        }
        let mut data = Bytes::copy_from_slice(req.data.get().as_bytes());
        if self.proxied(&req.channel, Kind::Publish) {
            let mut fields = Map::new();
            fields.insert("channel".into(), Value::from(req.channel.as_str()));
            fields.insert(
                "data".into(),
                json_of(Some(&req.data)).unwrap_or(Value::Null),
            );
            let Some(result) = self.ask_backend(id, Kind::Publish, fields).await else {
                return;
            };
            // The backend may publish other data than the client sent.
            if let Some(replaced) = result_data(&result) {
                data = Bytes::copy_from_slice(replaced.get().as_bytes());
            }
        }
        let published = self
            .state
            .channels
            .publish(
                &req.channel,
                data,
                Some(self.client.clone()),
                BTreeMap::new(),
                false,
            )
            .await;
        match published {
            Ok(_) => self.reply(id, &Reply::Publish),
            Err(err) => self.fail(id, reply_error(&err)),
        }
    }

    /// Checks a read of presence or history against the namespace.
    fn may_read(&self, id: u32, channel: &str, op: Operation) -> bool {
        if !self.check_channel(id, channel) {
            return false;
        }
        match self.state.channels.options(channel) {
            Err(err) => self.fail(id, reply_error(&err)),
            Ok(_) if !self.may(channel, op, false) => {
                self.fail(id, reply_error(&ChannelError::PermissionDenied))
            }
            Ok(_) => return true,
        }
        false
    }

    pub(super) async fn presence(&mut self, id: u32, req: ChannelRequest) {
        if !self.may_read(id, &req.channel, Operation::Presence) {
            return;
        }
        match self.state.channels.presence(&req.channel).await {
            Ok(members) => {
                let presence = members
                    .iter()
                    .map(|(client, info)| (client.as_str(), client_info_wire(info)))
                    .collect();
                self.reply(id, &Reply::Presence(PresenceResult { presence }));
            }
            Err(err) => self.fail(id, reply_error(&err)),
        }
    }

    pub(super) async fn presence_stats(&mut self, id: u32, req: ChannelRequest) {
        if !self.may_read(id, &req.channel, Operation::Presence) {
            return;
        }
        match self.state.channels.presence_stats(&req.channel).await {
            Ok(stats) => self.reply(
                id,
                &Reply::PresenceStats(PresenceStatsResult {
                    num_clients: stats.num_clients,
                    num_users: stats.num_users,
                }),
            ),
            Err(err) => self.fail(id, reply_error(&err)),
        }
    }

    pub(super) async fn history(&mut self, id: u32, req: HistoryRequest) {
        if !self.may_read(id, &req.channel, Operation::History) {
            return;
        }
        let max = self.state.config.channels.history_max_limit;
        let query = HistoryQuery {
            since: req.since.map(|s| StreamPosition {
                offset: s.offset,
                epoch: s.epoch,
            }),
            // Centrifugo's convention: 0 asks for the position only, a
            // negative limit for everything kept — cut to the client maximum.
            limit: Some(usize::try_from(req.limit).map_or(max, |l| l.min(max))),
            reverse: req.reverse,
        };
        match self.state.channels.history(&req.channel, &query).await {
            Ok(page) => {
                let result = HistoryResult {
                    publications: page
                        .publications
                        .iter()
                        .filter_map(|p| publication_wire(p))
                        .collect(),
                    epoch: &page.position.epoch,
                    offset: page.position.offset,
                };
                self.reply(id, &Reply::History(result));
            }
            Err(err) => self.fail(id, reply_error(&err)),
        }
    }

    /// `send`: an asynchronous message for the backends, as a `message` event.
    pub(super) fn send(&mut self, req: SendRequest) {
        let text = req.data.as_ref().map_or("null", |d| d.get());
        let decoded = payload::decode_text(text);
        // `send` has no reply to carry the error: counted and logged.
        if let Some((path, problem)) = self.violation(&decoded.message) {
            tracing::debug!(%path, %problem, "send refused by message_schema_file");
            return;
        }
        if self.sink_busy() {
            tracing::debug!("send refused: a sink is busy");
            return;
        }
        self.state
            .bus
            .emit(Event::message(self.conn.clone(), decoded));
    }

    /// True (and counted) while a sink taking this endpoint's events is
    /// above its `busy_backlog`: the message would only add to it.
    fn sink_busy(&self) -> bool {
        let busy = self
            .state
            .sinks
            .busy_for(&self.endpoint.config.path)
            .is_some();
        if busy {
            let counters = &self.endpoint.counters;
            counters.busy_messages.fetch_add(1, Ordering::Relaxed);
        }
        busy
    }

    /// Where `message` breaks the endpoint's `message_schema_file` (counted).
    fn violation(&self, message: &Value) -> Option<(String, String)> {
        let found = schema_violation(self.endpoint.schema.as_deref()?, message)?;
        self.endpoint
            .counters
            .invalid_messages
            .fetch_add(1, Ordering::Relaxed);
        Some(found)
    }

    /// `rpc`: an `rpc` event for the sinks, and the answer of the backend
    /// at `proxy.rpc_url` (error 108 when there is none).
    pub(super) async fn rpc(&mut self, id: u32, req: RpcRequest) {
        let text = req.data.as_ref().map_or("null", |d| d.get());
        let decoded = payload::decode_text(text);
        if let Some((path, problem)) = self.violation(&decoded.message) {
            let message = format!("invalid message at {path:?}: {problem}");
            return self.fail(id, ReplyError::new(error::BAD_REQUEST, message));
        }
        if self.sink_busy() {
            let busy = ReplyError {
                temporary: true,
                ..ReplyError::new(
                    error::TOO_MANY_REQUESTS,
                    "the backend is busy; try again later",
                )
            };
            return self.fail(id, busy);
        }
        let event = Event::rpc(self.conn.clone(), req.method.clone(), decoded);
        self.state.bus.emit(event);
        if !self
            .state
            .proxy
            .as_ref()
            .is_some_and(|p| p.handles(Kind::Rpc))
        {
            let message = "no backend answers rpc (proxy.rpc_url)";
            return self.fail(id, ReplyError::new(error::NOT_AVAILABLE, message));
        }
        let mut fields = Map::new();
        fields.insert("method".into(), Value::from(req.method));
        fields.insert(
            "data".into(),
            json_of(req.data.as_deref()).unwrap_or(Value::Null),
        );
        let Some(result) = self.ask_backend(id, Kind::Rpc, fields).await else {
            return;
        };
        let data = result_data(&result);
        self.reply(
            id,
            &Reply::Rpc(RpcResult {
                data: data.as_deref(),
            }),
        );
    }

    /// `sub_refresh`: a new subscription token for a channel subscribed
    /// with one. The reply carries its expiry, as Centrifugo's does.
    pub(super) async fn sub_refresh(&mut self, id: u32, req: SubRefreshRequest) {
        if !self.holds_grant(&req.channel) {
            return self.fail(id, reply_error(&ChannelError::PermissionDenied));
        }
        match self.subscription_grant(&req.channel, &req.token).await {
            Ok(grant) => {
                if let Some(ping) = &self.ping {
                    ping.set_sub_expiry(&req.channel, grant.expires_at);
                }
                let result = SubRefreshResult {
                    expires: grant.expires_at.is_some(),
                    ttl: super::auth::ttl(grant.expires_at),
                };
                self.reply(id, &Reply::SubRefresh(result));
            }
            Err(err) => self.fail(id, err),
        }
    }
}
