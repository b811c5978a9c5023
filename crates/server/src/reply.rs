//! JSON responses in the server API's shape, shared by every route, so a
//! client sees one error format whatever went wrong.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Serialize;
use switchboard_protocol::api::{ApiError, Reply};

/// `{"result": …}` with 200.
pub fn result<T: Serialize>(value: T) -> Response {
    (StatusCode::OK, Json(Reply::Result(value))).into_response()
}

/// `{"error": {"code", "message"}}` with the given status.
pub fn error(status: StatusCode, error: ApiError) -> Response {
    (status, Json(Reply::<()>::Error(error))).into_response()
}
