//! What each endpoint mode does with a client's messages.

use std::sync::Arc;

use switchboard_hub::Registration;
use switchboard_protocol::event::{ConnectionInfo, Event};
use switchboard_protocol::payload;
use switchboard_sinks::EventBus;
use switchboard_transport::{close, CloseFrame, Handler, Message, OutMessage, Outbound};

use crate::auth::raw::{RawAuth, Seen};
use crate::channels::ChannelsSession;
use crate::endpoint::{schema_violation, Endpoint};
use crate::limits::{MessageLimiter, Verdict};
use crate::state::AppState;
use std::sync::atomic::Ordering;

/// `raw`: every message becomes a `message` event for the sinks.
pub struct RawHandler {
    pub bus: EventBus,
    pub info: Arc<ConnectionInfo>,
    pub envelope: bool,
    /// The endpoint has `receipts = true`.
    pub receipts: bool,
    /// Auth and rate limits, on endpoints that have them. Boxed, so a
    /// connection of an endpoint without them pays one pointer.
    pub guard: Option<Box<RawGuard>>,
}

/// What a raw endpoint with auth or rate limits checks before a message
/// becomes an event.
pub struct RawGuard {
    /// The first-message credential, refresh and expiry.
    auth: Option<RawAuth>,
    limiter: Option<MessageLimiter>,
    /// Set when a sink of this endpoint can be busy (`busy_backlog`).
    busy: Option<BusyCheck>,
    /// The endpoint, when it has a `message_schema_file`.
    schema: Option<Arc<Endpoint>>,
    /// For error replies.
    outbound: Outbound,
}

/// What a message checks to refuse itself while a sink is busy.
pub struct BusyCheck {
    pub state: AppState,
    pub endpoint: Arc<Endpoint>,
}

impl RawGuard {
    /// A guard when there is anything to guard.
    pub fn new(
        auth: Option<RawAuth>,
        limiter: Option<MessageLimiter>,
        busy: Option<BusyCheck>,
        schema: Option<Arc<Endpoint>>,
        outbound: &Outbound,
    ) -> Option<Box<Self>> {
        let any = auth.is_some() || limiter.is_some() || busy.is_some() || schema.is_some();
        any.then(|| {
            Box::new(RawGuard {
                auth,
                limiter,
                busy,
                schema,
                outbound: outbound.clone(),
            })
        })
    }

    /// The registration made when a waiting client proved itself.
    pub fn take_registration(&mut self) -> Option<Registration> {
        self.auth.as_mut().and_then(RawAuth::take_registration)
    }

    /// Whether the message goes on as data (`Ok(true)`), was handled or
    /// refused here (`Ok(false)`), or ends the connection.
    async fn admit(
        &mut self,
        info: &mut Arc<ConnectionInfo>,
        message: &Message,
    ) -> Result<bool, CloseFrame> {
        if let Some(limiter) = &mut self.limiter {
            match limiter.check(info.user.as_deref()) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    let _ = self.outbound.send(OutMessage::text(RATE_LIMITED));
                    return Ok(false);
                }
                Verdict::Close(frame) => return Err(frame),
            }
        }
        let data = match &mut self.auth {
            Some(auth) => matches!(auth.on_message(info, message).await?, Seen::Data),
            None => true,
        };
        if let (true, Some(check)) = (data, &self.busy) {
            if check
                .state
                .sinks
                .busy_for(&check.endpoint.config.path)
                .is_some()
            {
                check
                    .endpoint
                    .counters
                    .busy_messages
                    .fetch_add(1, Ordering::Relaxed);
                let _ = self.outbound.send(OutMessage::text(BUSY));
                return Ok(false);
            }
        }
        Ok(data)
    }
}

impl RawGuard {
    /// False (and an error reply naming the failing path) when the message
    /// does not satisfy the endpoint's schema.
    fn valid(&self, message: &serde_json::Value) -> bool {
        let Some(endpoint) = &self.schema else {
            return true;
        };
        let Some(schema) = &endpoint.schema else {
            return true;
        };
        let Some((path, problem)) = schema_violation(schema, message) else {
            return true;
        };
        endpoint
            .counters
            .invalid_messages
            .fetch_add(1, Ordering::Relaxed);
        let reply = serde_json::json!({
            "type": "error",
            "error": "invalid_message",
            "path": path,
            "message": problem,
        });
        let _ = self.outbound.send(OutMessage::text(reply.to_string()));
        false
    }
}

/// Takes the string `receipt` field out of a JSON object message (or, on
/// envelope endpoints, out of the envelope): the workflow gets the message
/// without it, and the event carries the tag.
fn take_receipt(decoded: &mut payload::Decoded) -> Option<String> {
    let holder = decoded.envelope.as_mut().unwrap_or(&mut decoded.message);
    let fields = holder.as_object_mut()?;
    if !fields.get("receipt")?.is_string() {
        return None;
    }
    match fields.remove("receipt") {
        Some(serde_json::Value::String(tag)) => Some(tag),
        _ => None,
    }
}

/// What a raw client gets for a message while a sink is busy.
const BUSY: &str = r#"{"type":"error","error":"busy","message":"the backend is busy; this message was not taken, send it again later"}"#;

/// What a raw client gets for a message over its rate limit.
const RATE_LIMITED: &str = r#"{"type":"error","error":"rate_limited","message":"too many messages; this one was dropped"}"#;

impl Handler for RawHandler {
    async fn on_message(&mut self, message: Message) -> Result<(), CloseFrame> {
        if let Some(guard) = &mut self.guard {
            // Boxed: a token check may wait for a JWKS fetch, and an
            // unboxed future would be part of every connection's state.
            if !Box::pin(guard.admit(&mut self.info, &message)).await? {
                return Ok(());
            }
        }
        let decoded = match &message {
            Message::Text(_) => payload::decode_text(message.as_text().unwrap_or_default()),
            Message::Binary(bytes) => payload::decode_binary(bytes),
        };
        let decoded = if self.envelope {
            payload::into_envelope(decoded)
        } else {
            decoded
        };
        let mut decoded = decoded;
        let receipt = if self.receipts {
            take_receipt(&mut decoded)
        } else {
            None
        };
        if let Some(guard) = &self.guard {
            if !guard.valid(&decoded.message) {
                return Ok(());
            }
        }
        let mut event = Event::message(self.info.clone(), decoded);
        event.receipt = receipt;
        self.bus.emit(event);
        Ok(())
    }
}

/// `echo`: every message is sent back as it came (the conformance suite's
/// contract). Echo endpoints emit no message events.
pub struct EchoHandler {
    pub outbound: Outbound,
}

impl Handler for EchoHandler {
    async fn on_message(&mut self, message: Message) -> Result<(), CloseFrame> {
        let reply = match message {
            Message::Text(bytes) => OutMessage::text(bytes),
            Message::Binary(bytes) => OutMessage::binary(bytes),
        };
        // A refused echo is already accounted for by the queue: counted as
        // dropped, or the connection is closing as a slow consumer.
        let _ = self.outbound.send(reply);
        Ok(())
    }
}

/// A connection refused for capacity reads nothing before its close.
pub struct Refused;

impl Handler for Refused {
    async fn on_message(&mut self, _message: Message) -> Result<(), CloseFrame> {
        Err(CloseFrame::new(
            close::code::TRY_AGAIN_LATER,
            "server at capacity",
        ))
    }
}

/// The endpoint mode's message handler. The channels session is boxed: it
/// is several times the size of the others.
pub enum ModeHandler {
    Raw(RawHandler),
    Echo(EchoHandler),
    Channels(Box<ChannelsSession>),
    Refused(Refused),
}

impl Handler for ModeHandler {
    async fn on_message(&mut self, message: Message) -> Result<(), CloseFrame> {
        match self {
            ModeHandler::Raw(h) => h.on_message(message).await,
            ModeHandler::Echo(h) => h.on_message(message).await,
            // Boxed: channels commands wait on the broker and their future
            // is large; unboxed it would be part of every connection's
            // state, since a future is sized for its largest await.
            ModeHandler::Channels(h) => Box::pin(h.on_message(message)).await,
            ModeHandler::Refused(h) => h.on_message(message).await,
        }
    }
}
