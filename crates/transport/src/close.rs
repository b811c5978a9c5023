//! WebSocket close codes (RFC 6455 §7.4) and the close frame payload.

/// Named close codes the server sends. Every code Switchboard can put on the
/// wire is listed here, so the set is auditable in one place.
pub mod code {
    /// Normal closure: the peer asked to close, or the server API dropped the
    /// connection without naming a code.
    pub const NORMAL: u16 = 1000;
    /// Going away: server shutdown, idle timeout, maximum lifetime reached.
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error: a frame broke RFC 6455 or RFC 7692.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// No status received: never sent, reported when the peer's close frame had no code.
    pub const NO_STATUS: u16 = 1005;
    /// Abnormal closure: never sent, reported when the TCP connection ended without a close frame.
    pub const ABNORMAL: u16 = 1006;
    /// Invalid payload: a text message or close reason that is not UTF-8,
    /// or a compressed message that does not inflate.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: a client that broke an endpoint rule (no ping in
    /// `expect` heartbeat mode, outbound queue overflow with policy `close`).
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Message too big: larger than the endpoint's `max_message_size`.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Internal error: the server could not go on with this connection
    /// (heartbeat `send` mode: no pong in time).
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Try again later: the endpoint is at `max_connections`.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// The longest close reason that fits a control frame (125 bytes minus the code).
pub const MAX_REASON_LEN: usize = 123;

/// A close code with its reason, as sent in or read from a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: u16,
    /// A human-readable reason, at most [`MAX_REASON_LEN`] bytes on the wire.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame; the reason is cut at a character boundary to fit a control frame.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_LEN {
            let mut end = MAX_REASON_LEN;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Self { code, reason }
    }

    /// The frame payload: two bytes of code, then the reason.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.reason.len());
        out.extend_from_slice(&self.code.to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
        out
    }
}

/// Whether a peer may put `code` in a close frame (RFC 6455 §7.4.1–7.4.2).
/// 1005, 1006 and 1015 are reserved for reporting and never appear on the wire.
pub fn is_valid_on_wire(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether an application (the server API) may ask the server to close with
/// `code`: 1000, or the registered/private ranges 3000–4999. The 1001–1014
/// codes describe conditions the server itself detects, so the API may not
/// claim them.
pub fn is_application_code(code: u16) -> bool {
    code == code::NORMAL || (3000..=4999).contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_cut_at_a_char_boundary() {
        let frame = CloseFrame::new(1000, "é".repeat(100));
        assert!(frame.reason.len() <= MAX_REASON_LEN);
        assert_eq!(frame.reason.len() % 2, 0);
        assert_eq!(frame.payload().len(), 2 + frame.reason.len());
    }

    #[test]
    fn wire_codes() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(is_valid_on_wire(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!is_valid_on_wire(bad), "{bad}");
        }
        assert!(is_application_code(4000));
        assert!(!is_application_code(1001));
    }
}
