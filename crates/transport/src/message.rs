//! Messages received from a client, and the handler that consumes them.

use std::future::Future;

use bytes::Bytes;

use crate::close::CloseFrame;

/// A complete data message from a client (fragments joined, inflated,
/// text checked for UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; the bytes are valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn payload(&self) -> &Bytes {
        match self {
            Self::Text(b) | Self::Binary(b) => b,
        }
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            // The connection validated the bytes before building the message.
            Self::Text(b) => std::str::from_utf8(b).ok(),
            Self::Binary(_) => None,
        }
    }
}

/// What the layer above does with each message of one connection.
///
/// The connection awaits the returned future before it reads the next
/// frame, so a slow handler slows that client down rather than buffering
/// without bound. Returning `Err` closes the connection with that frame.
pub trait Handler: Send {
    /// Handles one message.
    fn on_message(
        &mut self,
        message: Message,
    ) -> impl Future<Output = Result<(), CloseFrame>> + Send;
}
