//! `history` and `history_remove`.

use serde_json::{json, Value};
use switchboard_broker::{HistoryQuery, StreamPosition};
use switchboard_hub::channels::publication_wire;
use switchboard_protocol::api::{ChannelParam, HistoryRequest};

use super::channel_error::failure;
use super::Failure;
use crate::state::AppState;

/// Reads history: `{"publications": [...], "offset", "epoch"}`.
pub async fn history(state: &AppState, request: HistoryRequest) -> Result<Value, Failure> {
    let query = HistoryQuery {
        since: request.since.map(|s| StreamPosition {
            offset: s.offset,
            epoch: s.epoch,
        }),
        // Centrifugo's convention: absent or 0 is the position only, negative is all.
        limit: match request.limit {
            None => Some(0),
            Some(n) => usize::try_from(n).ok(),
        },
        reverse: request.reverse.unwrap_or(false),
    };
    let page = state
        .channels
        .history(&request.channel, &query)
        .await
        .map_err(failure)?;
    let publications: Vec<_> = page
        .publications
        .iter()
        .filter_map(|p| publication_wire(p))
        .collect();
    Ok(json!({
        "publications": publications,
        "offset": page.position.offset,
        "epoch": page.position.epoch,
    }))
}

/// Removes a channel's publications (offsets and epoch carry on).
pub async fn history_remove(state: &AppState, request: ChannelParam) -> Result<Value, Failure> {
    state
        .channels
        .remove_history(&request.channel)
        .await
        .map_err(failure)?;
    Ok(json!({}))
}
