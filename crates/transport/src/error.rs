//! Transport errors, each mapped to the close code the peer receives.

use crate::close::code;

/// A violation by the peer that ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// RSV2 or RSV3 set, or RSV1 without a negotiated extension or on a frame that may not carry it.
    #[error("reserved bits set")]
    ReservedBits,
    /// Opcodes 0x3–0x7 and 0xB–0xF are reserved.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// Clients must mask every frame (RFC 6455 §5.1).
    #[error("unmasked client frame")]
    UnmaskedFrame,
    /// A 64-bit length with the most significant bit set.
    #[error("invalid payload length")]
    BadLength,
    /// A control frame longer than 125 bytes or fragmented.
    #[error("invalid control frame")]
    BadControlFrame,
    /// A continuation frame with no message in progress.
    #[error("continuation frame without a message")]
    UnexpectedContinuation,
    /// A new data frame while a fragmented message is in progress.
    #[error("data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A close frame with a one-byte payload or a code peers may not send.
    #[error("invalid close frame")]
    BadClose,
    /// A text message or close reason that is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A compressed message that does not inflate.
    #[error("invalid compressed data")]
    BadDeflate,
    /// A message larger than the endpoint's limit.
    #[error("message larger than {limit} bytes")]
    TooBig {
        /// The endpoint's `max_message_size`.
        limit: usize,
    },
}

impl ProtocolError {
    /// The close code this error is reported with (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            Self::InvalidUtf8 | Self::BadDeflate => code::INVALID_PAYLOAD,
            Self::TooBig { .. } => code::MESSAGE_TOO_BIG,
            _ => code::PROTOCOL_ERROR,
        }
    }
}
