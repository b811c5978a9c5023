//! The stream sessions of this node, by session id: where a client's POST
//! to the emulation path is delivered.
//!
//! A session id is a random UUID the client learns from its own stream
//! (the channels `connect` reply, the raw `session` event). It is not the
//! connection id, which events and the server API show: knowing a
//! connection id must not let anyone send as that client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Commands a session may have waiting before a POST has to wait.
const INBOX: usize = 64;
/// How long a POST waits for room in a busy session's inbox.
const INBOX_WAIT: Duration = Duration::from_secs(5);

/// What became of a posted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the session's inbox (204).
    Accepted,
    /// No such session here (404): it ended, or never existed.
    NoSession,
    /// Larger than the endpoint's `max_message_size` (413); the session goes on.
    TooLarge,
    /// The session did not take it within the wait (503).
    Busy,
}

impl Delivery {
    /// The HTTP status that tells the client.
    pub fn status(self) -> http::StatusCode {
        match self {
            Delivery::Accepted => http::StatusCode::NO_CONTENT,
            Delivery::NoSession => http::StatusCode::NOT_FOUND,
            Delivery::TooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            Delivery::Busy => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The inverse of [`Delivery::status`], for answers from other nodes.
    pub fn from_status(status: u16) -> Self {
        match status {
            204 => Delivery::Accepted,
            413 => Delivery::TooLarge,
            503 => Delivery::Busy,
            _ => Delivery::NoSession,
        }
    }
}

struct Entry {
    inbox: mpsc::Sender<Bytes>,
    max_message_size: usize,
}

/// This node's stream sessions.
#[derive(Default)]
pub struct StreamSessions {
    map: Mutex<HashMap<String, Entry>>,
}

/// A session's place in the registry; removed when dropped.
pub struct SessionGuard {
    sessions: Arc<StreamSessions>,
    id: String,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
    }
}

impl StreamSessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session: its id, its registry guard and the inbox its
    /// connection task reads.
    pub fn open(
        self: &Arc<Self>,
        max_message_size: usize,
    ) -> (String, SessionGuard, mpsc::Receiver<Bytes>) {
        let id = uuid::Uuid::new_v4().to_string();
        let (inbox, receiver) = mpsc::channel(INBOX);
        let entry = Entry {
            inbox,
            max_message_size,
        };
        self.lock().insert(id.clone(), entry);
        let guard = SessionGuard {
            sessions: self.clone(),
            id: id.clone(),
        };
        (id, guard, receiver)
    }

    /// Hands `data` to session `id`, waiting a little if its inbox is full.
    pub async fn deliver(&self, id: &str, data: Bytes) -> Delivery {
        let found = self
            .lock()
            .get(id)
            .map(|e| (e.inbox.clone(), e.max_message_size));
        let Some((inbox, max)) = found else {
            return Delivery::NoSession;
        };
        if data.len() > max {
            return Delivery::TooLarge;
        }
        match inbox.send_timeout(data, INBOX_WAIT).await {
            Ok(()) => Delivery::Accepted,
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => Delivery::Busy,
            Err(mpsc::error::SendTimeoutError::Closed(_)) => Delivery::NoSession,
        }
    }

    /// Open sessions, for `/metrics`.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn posts_reach_their_session_until_it_ends() {
        let sessions = Arc::new(StreamSessions::default());
        let (id, guard, mut inbox) = sessions.open(5);
        assert_eq!(
            sessions.deliver(&id, Bytes::from("hello")).await,
            Delivery::Accepted
        );
        assert_eq!(inbox.recv().await.unwrap(), "hello");
        assert_eq!(
            sessions.deliver(&id, Bytes::from("toolong")).await,
            Delivery::TooLarge
        );
        assert_eq!(
            sessions.deliver("other", Bytes::from("x")).await,
            Delivery::NoSession
        );
        drop(guard);
        assert_eq!(
            sessions.deliver(&id, Bytes::from("x")).await,
            Delivery::NoSession
        );
        assert_eq!(sessions.len(), 0);
    }

    #[test]
    fn statuses_travel_between_nodes_and_back() {
        for d in [
            Delivery::Accepted,
            Delivery::NoSession,
            Delivery::TooLarge,
            Delivery::Busy,
        ] {
            assert_eq!(Delivery::from_status(d.status().as_u16()), d);
        }
    }
}
