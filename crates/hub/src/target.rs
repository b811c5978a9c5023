//! Who a send or disconnect is for.

use crate::registry::{ConnectionId, Entry};

/// The connections an operation applies to.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// One connection.
    Connection(ConnectionId),
    /// A list of connections.
    Connections(&'a [ConnectionId]),
    /// Every connection of an endpoint path.
    Endpoint(&'a str),
    /// Every connection of a user.
    User(&'a str),
    /// Every connection.
    All,
}

impl Target<'_> {
    /// Whether `entry` is targeted (id targets are looked up directly instead).
    pub(crate) fn matches(&self, id: &ConnectionId, entry: &Entry) -> bool {
        match self {
            Target::Connection(one) => one == id,
            Target::Connections(list) => list.contains(id),
            Target::Endpoint(path) => &*entry.info.endpoint == *path,
            Target::User(user) => entry.info.user.as_deref() == Some(*user),
            Target::All => true,
        }
    }
}
