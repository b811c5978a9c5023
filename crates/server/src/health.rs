//! Liveness and readiness probes.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;
use switchboard_protocol::api::{code, ApiError};

use crate::reply;
use crate::state::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Response {
    reply::result(json!({ "status": "ok" }))
}

/// `GET /readyz`: 503 once shutdown has begun, so load balancers stop
/// sending new clients before connections are closed, and while the broker
/// does not answer (its last node announcement failed).
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.lifecycle.is_draining() {
        let err = ApiError::new(code::NOT_AVAILABLE, "draining");
        return reply::error(StatusCode::SERVICE_UNAVAILABLE, err);
    }
    if !state.nodes.broker_healthy() {
        let err = ApiError::new(code::NOT_AVAILABLE, "broker unreachable");
        return reply::error(StatusCode::SERVICE_UNAVAILABLE, err);
    }
    reply::result(json!({ "status": "ready" }))
}
