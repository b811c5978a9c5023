//! `connections`: a page of open connections, filtered by endpoint and user.

use switchboard_hub::Target;
use switchboard_protocol::api::{ConnectionsRequest, ConnectionsResult};

use super::Failure;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Lists connections, ordered by id; `cursor` is the last id of the previous page.
pub fn call(state: &AppState, request: ConnectionsRequest) -> Result<ConnectionsResult, Failure> {
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Failure::bad_params(format!(
            "limit must be 1..={MAX_LIMIT}"
        )));
    }
    let target = match &request.endpoint {
        Some(path) => {
            if state.endpoint(path).is_none() {
                return Err(Failure::bad_params(format!("no endpoint at {path:?}")));
            }
            Target::Endpoint(path)
        }
        None => Target::All,
    };
    let mut all = state.hub.list(target);
    if let Some(user) = &request.user {
        all.retain(|c| c.user.as_deref() == Some(user.as_str()));
    }
    let total = all.len();
    let start = match &request.cursor {
        Some(cursor) => all.partition_point(|c| c.id.as_str() <= cursor.as_str()),
        None => 0,
    };
    let page: Vec<_> = all[start..]
        .iter()
        .take(limit)
        .map(|c| (**c).clone())
        .collect();
    let next_cursor = (start + page.len() < total)
        .then(|| page.last().map(|c| c.id.clone()))
        .flatten();
    Ok(ConnectionsResult {
        connections: page,
        total,
        next_cursor,
    })
}
