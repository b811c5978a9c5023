//! `presence` and `presence_stats`.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchboard_hub::channels::client_info_wire;
use switchboard_protocol::api::ChannelParam;

use super::channel_error::failure;
use super::Failure;
use crate::state::AppState;

/// Who is present: `{"presence": {client_id: client_info}}`.
pub async fn presence(state: &AppState, request: ChannelParam) -> Result<Value, Failure> {
    let members = state
        .channels
        .presence(&request.channel)
        .await
        .map_err(failure)?;
    let presence: BTreeMap<&str, _> = members
        .iter()
        .map(|(client, info)| (client.as_str(), client_info_wire(info)))
        .collect();
    Ok(json!({ "presence": presence }))
}

/// Counts: `{"num_clients", "num_users"}`.
pub async fn presence_stats(state: &AppState, request: ChannelParam) -> Result<Value, Failure> {
    let stats = state
        .channels
        .presence_stats(&request.channel)
        .await
        .map_err(failure)?;
    Ok(json!({ "num_clients": stats.num_clients, "num_users": stats.num_users }))
}
