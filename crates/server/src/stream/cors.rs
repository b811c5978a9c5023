//! Cross-origin requests of the stream transports. The `centrifuge` SDK
//! fetches with `mode: "cors"`, and its POSTs carry a JSON content type,
//! so a page served from another origin first sends a preflight.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use switchboard_protocol::api::{code, ApiError};
use switchboard_transport::handshake::origin_allowed;

use crate::reply;

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Answers a preflight (`OPTIONS`): 204 with what the request may do when
/// its origin is in `allowed`, 403 otherwise.
pub fn preflight(request: &HeaderMap, allowed: &[String]) -> Response {
    if !origin_allowed(request, allowed) {
        let err = ApiError::new(code::PERMISSION_DENIED, "origin not allowed");
        return reply::error(StatusCode::FORBIDDEN, err);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow(request, headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE),
    );
    response
}

/// Lets the request's origin read the response (the caller has checked
/// the origin). Same-origin requests without an `Origin` get nothing.
pub fn allow(request: &HeaderMap, response: &mut HeaderMap) {
    if let Some(origin) = request.get(header::ORIGIN) {
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        response.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        response.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}
