//! `subscribe` and `unsubscribe`: server-side subscriptions of a user's
//! `channels` connections, in Centrifugo's request shape. The connections
//! get `subscribe` / `unsubscribe` pushes.

use switchboard_hub::{ConnectionId, Target};
use switchboard_protocol::api::{ServerSubscriptionRequest, ServerSubscriptionResult};

use super::channel_error::failure;
use super::{parse_ids, Failure};
use crate::state::AppState;

/// The connections a request targets: the user's, or its one `client`.
fn targets(
    state: &AppState,
    request: &ServerSubscriptionRequest,
) -> Result<Vec<ConnectionId>, Failure> {
    let user_matches = |user: Option<&str>| user.unwrap_or_default() == request.user;
    match request.client.as_ref().or(request.session.as_ref()) {
        Some(id) => Ok(parse_ids(std::slice::from_ref(id))
            .into_iter()
            .filter(|id| {
                state
                    .hub
                    .list(Target::Connection(*id))
                    .iter()
                    .any(|c| user_matches(c.user.as_deref()))
            })
            .collect()),
        None if request.user.is_empty() => Err(Failure::bad_params(
            "give user (anonymous connections only with client)",
        )),
        None => Ok(parse_ids(
            &state
                .hub
                .list(Target::User(&request.user))
                .iter()
                .map(|c| c.id.clone())
                .collect::<Vec<_>>(),
        )),
    }
}

/// Subscribes the targets; a connection already subscribed is skipped.
pub async fn subscribe(
    state: &AppState,
    request: ServerSubscriptionRequest,
) -> Result<ServerSubscriptionResult, Failure> {
    state.channels.options(&request.channel).map_err(failure)?;
    let mut connections = 0;
    for id in targets(state, &request)? {
        if state.channels.is_subscribed(&id, &request.channel) {
            continue;
        }
        if state
            .channels
            .server_subscribe(id, &request.channel)
            .await
            .map_err(failure)?
        {
            connections += 1;
        }
    }
    Ok(ServerSubscriptionResult { connections })
}

/// Unsubscribes the targets.
pub async fn unsubscribe(
    state: &AppState,
    request: ServerSubscriptionRequest,
) -> Result<ServerSubscriptionResult, Failure> {
    let mut connections = 0;
    for id in targets(state, &request)? {
        if state
            .channels
            .server_unsubscribe(id, &request.channel)
            .await
        {
            connections += 1;
        }
    }
    Ok(ServerSubscriptionResult { connections })
}
