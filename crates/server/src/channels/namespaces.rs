//! Channel options from the `[channels]` configuration.

use std::sync::Arc;

use switchboard_broker::HistoryOptions;
use switchboard_config::{ChannelsConfig, NamespaceOptions};
use switchboard_hub::channels::{OfflineQueueOptions, OptionsResolver};
use switchboard_hub::ChannelOptions;

fn to_options(ns: &NamespaceOptions) -> ChannelOptions {
    ChannelOptions {
        history: (ns.history_size > 0).then_some(HistoryOptions {
            size: ns.history_size,
            ttl: ns.history_ttl,
        }),
        recovery: ns.recovery,
        presence: ns.presence,
        join_leave: ns.join_leave,
        echo_to_publisher: ns.echo_to_publisher,
        last_value: ns.last_value,
        max_subscribers: ns.max_subscribers,
        offline_queue: (ns.offline_queue_size > 0).then_some(OfflineQueueOptions {
            size: ns.offline_queue_size,
            ttl: ns.offline_queue_ttl,
        }),
    }
}

/// The resolver the hub uses: a channel's namespace options, or `None`
/// for an unknown namespace.
pub fn resolver(config: &ChannelsConfig) -> OptionsResolver {
    let config = config.clone();
    Arc::new(move |channel: &str| config.namespace_options(channel).map(to_options))
}
