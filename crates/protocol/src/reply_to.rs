//! The `reply_to` handle every event carries.
//!
//! A workflow that answers minutes later may find the connection gone; the
//! handle therefore names both the connection and its user, so the server
//! API can fall back to the user's current session (and, with an offline
//! queue, to the user's next one). It is opaque to backends: base64url of
//! `<connection id>\n<user>`. It is not a secret — whoever may call `send`
//! may reach any connection anyway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;

/// Where a `reply_to` handle points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// The connection that caused the event.
    pub connection: String,
    /// Its user, when it had authenticated.
    pub user: Option<String>,
}

/// The handle for a connection and its user.
pub fn encode(connection: &str, user: Option<&str>) -> String {
    let mut raw = String::with_capacity(connection.len() + 1 + user.map_or(0, str::len));
    raw.push_str(connection);
    if let Some(user) = user {
        raw.push('\n');
        raw.push_str(user);
    }
    B64.encode(raw)
}

/// Reads a handle; `None` when it is not one.
pub fn decode(handle: &str) -> Option<ReplyTo> {
    let raw = String::from_utf8(B64.decode(handle).ok()?).ok()?;
    let (connection, user) = match raw.split_once('\n') {
        Some((c, u)) => (c, Some(u.to_owned())),
        None => (raw.as_str(), None),
    };
    if connection.is_empty() {
        return None;
    }
    Some(ReplyTo {
        connection: connection.to_owned(),
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_user() {
        let with = decode(&encode("c1", Some("alice"))).unwrap();
        assert_eq!(with.connection, "c1");
        assert_eq!(with.user.as_deref(), Some("alice"));
        let without = decode(&encode("c2", None)).unwrap();
        assert_eq!((without.connection.as_str(), without.user), ("c2", None));
    }

    #[test]
    fn junk_is_not_a_handle() {
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(""), None);
        assert_eq!(decode(&B64.encode([0xff, 0xfe])), None);
    }
}
