//! The data a broker moves and stores.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A position in a channel's history stream. Offsets grow by one per
/// publication; the epoch names one continuous life of the stream, and
/// changes when the stream is lost (with the memory broker: a restart; with
/// Redis: a lost or evicted key), so a client holding an old epoch knows its
/// offset means nothing any more. Publications expiring by age do not
/// change it: offsets carry on, and a read that needs an expired one refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// Offset of the last publication (0: none yet).
    pub offset: u64,
    /// The stream's epoch.
    pub epoch: String,
}

/// Who published, or who is present: Centrifugo's `ClientInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The user id ("" for anonymous).
    pub user: String,
    /// The connection id.
    pub client: String,
    /// Connection-level info (raw JSON), if any.
    pub conn_info: Option<Bytes>,
    /// Channel-level info (raw JSON), if any.
    pub chan_info: Option<Bytes>,
}

/// One message published into a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Its offset in the channel's stream (0 when the channel keeps no history).
    pub offset: u64,
    /// The payload: raw JSON text in the JSON protocol.
    pub data: Bytes,
    /// The publisher, when a client published.
    pub info: Option<Arc<ClientInfo>>,
    /// Free-form tags from the publisher.
    pub tags: BTreeMap<String, String>,
    /// When it was published (Unix milliseconds); history expires by it.
    pub time_ms: u64,
}

/// How a channel keeps history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryOptions {
    /// At most this many publications are kept (older ones are trimmed).
    pub size: usize,
    /// Publications older than this are trimmed.
    pub ttl: Duration,
}

/// A history read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only publications after this position (its epoch must match).
    pub since: Option<StreamPosition>,
    /// At most this many; `None` = all kept, `Some(0)` = just the position.
    pub limit: Option<usize>,
    /// Newest first.
    pub reverse: bool,
}

/// What a history read returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The publications, in the asked order.
    pub publications: Vec<Arc<Publication>>,
    /// The stream's current top.
    pub position: StreamPosition,
}

/// Presence counts of a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceStats {
    /// Connections present.
    pub num_clients: u32,
    /// Distinct users among them.
    pub num_users: u32,
}

/// Why a broker call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// `since` names another epoch, or an offset the stream no longer holds.
    #[error("unrecoverable position")]
    UnrecoverablePosition,
    /// The backend cannot be reached (Redis down).
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}
