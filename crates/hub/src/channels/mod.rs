//! Channels: subscriptions, fan-out of publications, join/leave, presence,
//! history and recovery — the hub side of `channels` endpoints and of the
//! server API's channel methods. One code path: a client publish and an API
//! publish both call [`ChannelHub::publish`], and every publication reaches
//! subscribers through the broker's callback ([`Fanout`]).

mod encode;
mod fanout;
mod gaps;
mod hub;
mod members;
mod offline;
mod options;
mod subscribe;

pub use encode::{
    client_info_wire, publication_frame, publication_wire, raw_json, subscribe_result,
};
pub use fanout::Fanout;
pub use hub::{ChannelError, ChannelHub, ChannelSummary, Subscribed, SubscriberRef};
pub use offline::{channel_users, OfflineQueueOptions};
pub use options::{ChannelOptions, OptionsResolver};

/// Publications buffered for one subscriber while its subscribe reads
/// history; past this the subscribe fails rather than grow without bound.
pub const RECOVERY_BUFFER_LIMIT: usize = 10_000;
