//! `batch`: several methods in one call, each answered in order.

use serde_json::{json, Value};
use switchboard_protocol::api::{BatchRequest, BatchResult};

use switchboard_config::ApiScope;

use super::{permitted, run, Failure};
use crate::state::AppState;

/// Runs each `{"<method>": {params}}` in order; a failing command gets an
/// `{"error": …}` reply and does not stop the others.
pub async fn call(
    state: &AppState,
    scope: ApiScope,
    request: BatchRequest,
) -> Result<BatchResult, Failure> {
    let mut replies = Vec::with_capacity(request.commands.len());
    for command in request.commands {
        let mut entries = command.into_iter();
        let reply = match (entries.next(), entries.next()) {
            (Some((method, _)), None) if method == "batch" => {
                error(Failure::bad_params("batch cannot be nested"))
            }
            (Some((method, params)), None) => {
                let outcome = match permitted(scope, &method) {
                    Ok(()) => run(state, &method, params).await,
                    Err(failure) => Err(failure),
                };
                match outcome {
                    Ok(result) => json!({ method: result }),
                    Err(failure) => error(failure),
                }
            }
            _ => error(Failure::bad_params("each command names exactly one method")),
        };
        replies.push(reply);
    }
    Ok(BatchResult { replies })
}

fn error(failure: Failure) -> Value {
    json!({ "error": failure.error })
}
