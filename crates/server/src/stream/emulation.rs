//! `POST <emulation_path>`: what stream clients send. The body names the
//! session (and the node holding it) and carries the data:
//! `{"session": "…", "node": "…", "data": "<commands or message>"}`. A
//! JSON string `data` is taken as the text itself (the `centrifuge` SDK
//! sends its encoded commands so); any other JSON value as its JSON text.
//!
//! The session may live on another node: then the request travels over
//! the broker's control bus to that node, which answers whether it took
//! it, so no sticky sessions are needed in front of a cluster.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_protocol::api::{code, ApiError};
use switchboard_transport::handshake::origin_allowed;

use super::cors;
use super::open::{is_protobuf, method_not_allowed};
use super::sessions::Delivery;
use crate::reply;
use crate::state::AppState;

/// Room for JSON escaping on top of the largest `max_message_size`.
const ENVELOPE_BYTES: usize = 4096;

#[derive(Deserialize)]
struct EmulationRequest {
    session: String,
    #[serde(default)]
    node: String,
    data: Box<RawValue>,
}

/// Handles one emulation request.
pub async fn emulation(state: AppState, request: Request<Body>) -> Response {
    let origins = allowed_origins(&state);
    if request.method() == Method::OPTIONS {
        return cors::preflight(request.headers(), &origins);
    }
    if request.method() != Method::POST {
        return method_not_allowed("POST", request.uri().path());
    }
    let (parts, body) = request.into_parts();
    let fail = |status: StatusCode, err: ApiError| {
        let mut response = reply::error(status, err);
        cors::allow(&parts.headers, response.headers_mut());
        response
    };
    if !origin_allowed(&parts.headers, &origins) {
        let err = ApiError::new(code::PERMISSION_DENIED, "origin not allowed");
        return fail(StatusCode::FORBIDDEN, err);
    }
    if is_protobuf(&parts.headers) {
        let err = ApiError::bad_request("only JSON emulation requests are understood");
        return fail(StatusCode::UNSUPPORTED_MEDIA_TYPE, err);
    }
    let limit = body_limit(&state);
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::new(
                code::LIMIT_EXCEEDED,
                format!("request body larger than {limit} bytes"),
            );
            return fail(StatusCode::PAYLOAD_TOO_LARGE, err);
        }
    };
    let request: EmulationRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(err) => {
            let message = format!(
                "expected {{\"session\": string, \"node\": string, \"data\": string}}: {err}"
            );
            return fail(StatusCode::BAD_REQUEST, ApiError::bad_request(message));
        }
    };
    let data = match data_text(&request.data) {
        Some(data) => data,
        None => {
            let err = ApiError::bad_request("`data` is not a valid JSON string");
            return fail(StatusCode::BAD_REQUEST, err);
        }
    };
    let delivery = route(&state, &request.node, &request.session, data).await;
    let message = match delivery {
        Delivery::Accepted => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            cors::allow(&parts.headers, response.headers_mut());
            return response;
        }
        Delivery::NoSession => "no such session: it ended, or its node is gone; reconnect",
        Delivery::TooLarge => "the message is larger than the endpoint's max_message_size",
        Delivery::Busy => "the session is not keeping up; try again",
    };
    let code = match delivery {
        Delivery::Busy => code::TOO_MANY_REQUESTS,
        Delivery::TooLarge => code::LIMIT_EXCEEDED,
        _ => code::BAD_REQUEST,
    };
    fail(delivery.status(), ApiError::new(code, message))
}

/// Delivers here, or on the node that holds the session.
pub async fn route(state: &AppState, node: &str, session: &str, data: Bytes) -> Delivery {
    if node.is_empty() || node == state.node_uid {
        return state.streams.deliver(session, data).await;
    }
    state.cluster.emulate(state, node, session, data).await
}

/// The text a request carries: a JSON string's content, or the JSON text
/// of any other value.
fn data_text(raw: &RawValue) -> Option<Bytes> {
    let text = raw.get();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok().map(Bytes::from)
    } else {
        Some(Bytes::copy_from_slice(text.as_bytes()))
    }
}

/// Origins allowed by any endpoint with a stream transport (empty: any).
fn allowed_origins(state: &AppState) -> Vec<String> {
    let mut origins = Vec::new();
    for endpoint in state.endpoints.iter().filter(|e| e.has_streams()) {
        if endpoint.config.allowed_origins.is_empty() {
            return Vec::new();
        }
        origins.extend(endpoint.config.allowed_origins.iter().cloned());
    }
    origins
}

/// The largest body worth reading: the largest message a stream endpoint
/// accepts, escaped, in its envelope.
fn body_limit(state: &AppState) -> usize {
    let largest = state
        .endpoints
        .iter()
        .filter(|e| e.has_streams())
        .map(|e| e.config.max_message_size)
        .max()
        .unwrap_or(0);
    largest.saturating_mul(2).saturating_add(ENVELOPE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn string_data_is_its_text_and_other_values_their_json() {
        assert_eq!(
            data_text(&raw(r#""{\"id\":1}\n{}""#)).unwrap(),
            "{\"id\":1}\n{}"
        );
        assert_eq!(data_text(&raw(r#"{"a": 1}"#)).unwrap(), r#"{"a": 1}"#);
        assert_eq!(data_text(&raw("42")).unwrap(), "42");
    }
}
