//! `sinks`, `dead_letters`, `dead_letter_replay`, `dead_letter_purge`: the
//! webhook and Redis stream sinks of this node, and what they gave up on.

use serde::Deserialize;
use serde_json::{json, Value};
use switchboard_protocol::api::{code, ApiError};
use switchboard_sinks::durable::DurableHandle;

use super::Failure;
use crate::state::AppState;

/// Most dead letters one `dead_letters` call returns.
const MAX_PAGE: usize = 1000;

/// `sinks`: every durable sink's backlog and counters.
pub fn status(state: &AppState) -> Value {
    let sinks: Vec<_> = state
        .sinks
        .all()
        .iter()
        .map(DurableHandle::status)
        .collect();
    json!({ "sinks": sinks })
}

/// `dead_letters` parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    sink: String,
    /// Only ids above this (paging).
    #[serde(default)]
    after: u64,
    /// Default 100, at most 1000.
    #[serde(default)]
    limit: Option<usize>,
}

/// `dead_letter_replay` and `dead_letter_purge` parameters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickRequest {
    sink: String,
    /// These dead letters; absent: all of them.
    #[serde(default)]
    ids: Option<Vec<u64>>,
}

fn sink<'a>(state: &'a AppState, name: &str) -> Result<&'a DurableHandle, Failure> {
    state.sinks.get(name).ok_or_else(|| {
        let names: Vec<_> = state.sinks.all().iter().map(DurableHandle::name).collect();
        Failure::bad_params(format!(
            "no webhook or stream sink named {name:?}; sinks: {}",
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        ))
    })
}

fn store_failed(err: impl std::fmt::Display) -> Failure {
    Failure::method(ApiError::new(code::INTERNAL, format!("sink store: {err}")))
}

/// `dead_letters`: a page of what a sink gave up on, oldest first.
pub async fn list(state: &AppState, request: ListRequest) -> Result<Value, Failure> {
    let limit = request.limit.unwrap_or(100).min(MAX_PAGE);
    let (letters, total) = sink(state, &request.sink)?
        .dead_letters(request.after, limit)
        .await
        .map_err(store_failed)?;
    Ok(json!({ "dead_letters": letters, "total": total }))
}

/// `dead_letter_replay`: dead letters back to the end of the sink's backlog.
pub async fn replay(state: &AppState, request: PickRequest) -> Result<Value, Failure> {
    let n = sink(state, &request.sink)?
        .replay(request.ids)
        .await
        .map_err(store_failed)?;
    Ok(json!({ "replayed": n }))
}

/// `dead_letter_purge`: dead letters deleted.
pub async fn purge(state: &AppState, request: PickRequest) -> Result<Value, Failure> {
    let n = sink(state, &request.sink)?
        .purge(request.ids)
        .await
        .map_err(store_failed)?;
    Ok(json!({ "purged": n }))
}
