//! Replies held for a user who has no connection: a `send` to a `reply_to`
//! handle that reaches nobody is kept in the offline store (shared by every
//! node with the Redis broker) and handed to the user's next connection.
//! A workflow that answers after the user left still reaches them.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use switchboard_broker::{now_ms, OfflineQueueOptions, OfflineStore, Publication};
use switchboard_protocol::event::ConnectionInfo;

use crate::state::AppState;

/// The offline store's channel for held replies. It has a space, which no
/// client channel may have, so it cannot collide with one.
const CHANNEL: &str = "held replies";

/// Held replies, when `api.reply_hold_size` is above 0.
pub struct HeldReplies {
    store: Arc<dyn OfflineStore>,
    options: OfflineQueueOptions,
}

impl HeldReplies {
    /// `None` when holding is off.
    pub fn new(
        store: Arc<dyn OfflineStore>,
        size: usize,
        ttl: std::time::Duration,
    ) -> Option<Self> {
        (size > 0).then(|| HeldReplies {
            store,
            options: OfflineQueueOptions { size, ttl },
        })
    }

    /// Keeps the payload fields of a `send` (`data`, `text` or `binary`)
    /// for `user`. False when the store could not keep it.
    pub async fn hold(&self, user: &str, payload: &Value) -> bool {
        let publication = Arc::new(Publication {
            offset: 0,
            data: Bytes::from(payload.to_string()),
            info: None,
            tags: Default::default(),
            time_ms: now_ms(),
        });
        match self
            .store
            .push(CHANNEL, &[user], publication, self.options)
            .await
        {
            Ok(refused) => refused.is_empty(),
            Err(err) => {
                tracing::warn!(error = %err, "a reply could not be held");
                false
            }
        }
    }

    /// Sends what is held for the user of `info` to that connection.
    pub fn deliver(state: &AppState, info: &Arc<ConnectionInfo>) {
        let (Some(held), Some(user)) = (&state.held, &info.user) else {
            return;
        };
        let (store, ttl) = (held.store.clone(), held.options.ttl);
        let (state, user, id) = (state.clone(), user.clone(), info.id.clone());
        tokio::spawn(async move {
            let replies = match store.take(CHANNEL, &user, ttl, now_ms()).await {
                Ok(replies) => replies,
                Err(err) => {
                    tracing::warn!(error = %err, "held replies could not be read");
                    return;
                }
            };
            for reply in replies {
                let Ok(Value::Object(mut params)) = serde_json::from_slice(&reply.data) else {
                    continue;
                };
                params.insert("connection".into(), Value::from(id.as_str()));
                if let Err(failure) = crate::api::run(&state, "send", Value::Object(params)).await {
                    tracing::warn!(error = %failure.to_json(), "a held reply could not be sent");
                }
            }
        });
    }
}

/// A connection of a user opened: counted online, and handed what is held.
pub fn user_connected(state: &AppState, info: &Arc<ConnectionInfo>) {
    state.users.connected(info);
    HeldReplies::deliver(state, info);
}
