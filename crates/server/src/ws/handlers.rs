//! What each endpoint mode does with a client's messages.

use std::sync::Arc;

use switchboard_protocol::event::{ConnectionInfo, Event};
use switchboard_protocol::payload;
use switchboard_sinks::EventBus;
use switchboard_transport::{close, CloseFrame, Handler, Message, OutMessage, Outbound};

use crate::auth::raw::{RawAuth, Seen};
use crate::channels::ChannelsSession;
use crate::limits::{MessageLimiter, Verdict};

/// `raw`: every message becomes a `message` event for the sinks.
pub struct RawHandler {
    pub bus: EventBus,
    pub info: Arc<ConnectionInfo>,
    pub envelope: bool,
    /// On endpoints with auth: the first-message credential, refresh and
    /// expiry. Boxed: most raw endpoints have none.
    pub auth: Option<Box<RawAuth>>,
    /// On endpoints with message rate limits.
    pub limiter: Option<Box<MessageLimiter>>,
    /// For error replies.
    pub outbound: Outbound,
}

/// What a raw client gets for a message over its rate limit.
const RATE_LIMITED: &str = r#"{"type":"error","error":"rate_limited","message":"too many messages; this one was dropped"}"#;

impl Handler for RawHandler {
    async fn on_message(&mut self, message: Message) -> Result<(), CloseFrame> {
        if let Some(limiter) = &mut self.limiter {
            match limiter.check(self.info.user.as_deref()) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    let _ = self.outbound.send(OutMessage::text(RATE_LIMITED));
                    return Ok(());
                }
                Verdict::Close(frame) => return Err(frame),
            }
        }
        if let Some(auth) = &mut self.auth {
            // Boxed: a token check may wait for a JWKS fetch.
            let seen = Box::pin(auth.on_message(&mut self.info, &message)).await?;
            if matches!(seen, Seen::Handled) {
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
        self.bus.emit(Event::message(self.info.clone(), decoded));
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
