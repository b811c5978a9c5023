//! The server API: `POST /api/<method>` with a JSON body, in the method
//! style of Centrifugo's HTTP API. Each method lives in its own file with
//! its request parsing and its effect.

mod connections;
mod disconnect;
mod info;
mod send;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::Response;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use switchboard_protocol::api::{code, ApiError};

use crate::reply;
use crate::state::AppState;

/// Why a call failed, with the HTTP status it is answered with.
pub struct Failure {
    status: StatusCode,
    error: ApiError,
}

impl Failure {
    /// A transport-level failure with its own status.
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error: ApiError::new(code, message),
        }
    }

    /// A method-level failure: like Centrifugo, answered with 200 and an
    /// error body, so SDKs report it as an API error, not a transport error.
    pub fn method(error: ApiError) -> Self {
        Self {
            status: StatusCode::OK,
            error,
        }
    }

    /// Invalid parameters (method level, code 107).
    pub fn bad_params(message: impl Into<String>) -> Self {
        Self::method(ApiError::bad_request(message))
    }
}

/// The `/api/{method}` route.
pub async fn call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    request: Request<Body>,
) -> Response {
    match dispatch(&state, peer, &method, request).await {
        Ok(response) => response,
        Err(failure) => reply::error(failure.status, failure.error),
    }
}

async fn dispatch(
    state: &AppState,
    peer: SocketAddr,
    method: &str,
    request: Request<Body>,
) -> Result<Response, Failure> {
    authorize(&state.config.api.key, peer, request.headers())?;
    let body = read_body(request, state.config.api.max_body_size).await?;
    match method {
        "info" => info::call(state, parse(&body)?),
        "connections" => connections::call(state, parse(&body)?),
        "send" => send::call(state, parse(&body)?),
        "disconnect" => disconnect::call(state, parse(&body)?),
        other => Err(Failure::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!("unknown method {other:?}; methods: info, connections, send, disconnect"),
        )),
    }
}

/// With a key configured, `X-API-Key: KEY` (or Centrifugo's older
/// `Authorization: apikey KEY`) is required. Without one, only loopback
/// callers are served, so an unconfigured server is never open to the network.
fn authorize(key: &str, peer: SocketAddr, headers: &HeaderMap) -> Result<(), Failure> {
    if key.is_empty() {
        if peer.ip().is_loopback() {
            return Ok(());
        }
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "no api.key is configured, so the API answers loopback callers only",
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let given = header("x-api-key")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("apikey ")));
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), key.as_bytes()) => Ok(()),
        _ => Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "missing or wrong X-API-Key",
        )),
    }
}

// Compares without an early exit, so response time does not reveal how
// much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn read_body(request: Request<Body>, limit: usize) -> Result<bytes::Bytes, Failure> {
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::LIMIT_EXCEEDED,
            format!("request body larger than api.max_body_size ({limit} bytes)"),
        )),
        Err(err) => Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            format!("could not read the request body: {err}"),
        )),
    }
}

/// Parses a JSON body; an empty body is an empty object, as for `info`.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    // serde would read a JSON array into a struct by position (`[null, null, 5]`
    // as `limit: 5`); parameters are named, so only an object is a request.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            "invalid JSON body: expected a JSON object with named parameters",
        ));
    }
    serde_json::from_slice(body).map_err(|err| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            format!("invalid JSON body: {err}"),
        )
    })
}

/// Parses connection ids; an id that is not one of ours matches nothing.
fn parse_ids(ids: &[String]) -> Vec<switchboard_hub::ConnectionId> {
    ids.iter().filter_map(|id| id.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }

    #[test]
    fn loopback_only_without_a_key() {
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:1".parse().unwrap();
        assert!(authorize("", local, &HeaderMap::new()).is_ok());
        assert!(authorize("", remote, &HeaderMap::new()).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "k".parse().unwrap());
        assert!(authorize("k", remote, &h).is_ok());
        assert!(authorize("other", remote, &h).is_err());
    }
}
