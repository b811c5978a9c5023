//! `refresh` (Centrifugo's shape) and `offline_queue` (Switchboard's own):
//! the server's view of a user's connections and what waits for them.

use switchboard_hub::{ConnectionId, Target};
use switchboard_protocol::api::{
    OfflineQueueRequest, OfflineQueueResult, RefreshRequest, ServerSubscriptionResult,
};

use super::channel_error::failure;
use super::{parse_ids, Failure};
use crate::state::AppState;

/// The user's connections, or the one named.
fn connections(state: &AppState, user: &str, client: Option<&String>) -> Vec<ConnectionId> {
    let of_user = state.hub.list(Target::User(user));
    let ids: Vec<String> = of_user
        .iter()
        .filter(|c| client.is_none_or(|id| &c.id == id))
        .map(|c| c.id.clone())
        .collect();
    parse_ids(&ids)
}

/// Moves (or ends) the expiry of a user's `channels` connections.
pub fn refresh(
    state: &AppState,
    request: RefreshRequest,
) -> Result<ServerSubscriptionResult, Failure> {
    if request.user.is_empty() {
        return Err(Failure::bad_params("user is required"));
    }
    // Expired now: one second in the past, so the next sweep closes them.
    let expiry = match (request.expired, request.expire_at) {
        (Some(true), _) => Some(1),
        (_, at) => at,
    };
    let client = request.client.as_ref().or(request.session.as_ref());
    let mut touched = 0;
    for id in connections(state, &request.user, client) {
        if state.keepalive.set_expiry(&id, expiry) {
            touched += 1;
        }
    }
    Ok(ServerSubscriptionResult {
        connections: touched,
    })
}

/// Publications waiting in a user's offline queues. The queues are in the
/// broker layer (shared by every node with Redis), so this runs on one node.
pub async fn offline_queue(
    state: &AppState,
    request: OfflineQueueRequest,
) -> Result<OfflineQueueResult, Failure> {
    let pending = state.channels.offline_pending(&request.user).await;
    Ok(OfflineQueueResult {
        pending: pending.map_err(failure)? as u64,
    })
}
