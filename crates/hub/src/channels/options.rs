//! How a channel behaves, resolved from its namespace by the server layer.
//! (Who may use it is the server's business: `server/src/channels/permissions.rs`.)

use std::sync::Arc;

use switchboard_broker::HistoryOptions;

/// One channel's options (from its namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelOptions {
    /// History kept, if any.
    pub history: Option<HistoryOptions>,
    /// Clients may recover missed publications on resubscribe.
    pub recovery: bool,
    /// Presence is tracked.
    pub presence: bool,
    /// Join and leave pushes are sent to subscribers.
    pub join_leave: bool,
    /// A subscribed publisher receives its own publication.
    pub echo_to_publisher: bool,
    /// A new subscriber receives the newest publication.
    pub last_value: bool,
    /// At most this many subscribers on this node (0: unlimited).
    pub max_subscribers: usize,
    /// Offline queues for the users of user-limited channels.
    pub offline_queue: Option<super::OfflineQueueOptions>,
}

/// Finds a channel's options; `None` for a channel in an unknown namespace.
pub type OptionsResolver = Arc<dyn Fn(&str) -> Option<ChannelOptions> + Send + Sync>;
