//! The server API: `POST /api/<method>` with a JSON body, in the method
//! style of Centrifugo's HTTP API. Each method lives in its own file with
//! its request parsing and its effect.

mod batch;
mod channel_error;
mod channels;
mod connections;
mod disconnect;
mod history;
mod info;
pub(crate) use info::this_node;
mod presence;
mod publish;
mod send;
mod subscriptions;
mod users;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use serde_json::Value;
use switchboard_protocol::api::{code, ApiError};

use crate::cluster;
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

    /// The error object, as another node sends it back.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.error).unwrap_or(Value::Null)
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

/// Every method, for the "unknown method" message.
const METHODS: &[&str] = &[
    "info",
    "connections",
    "send",
    "disconnect",
    "publish",
    "broadcast",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "subscribe",
    "unsubscribe",
    "refresh",
    "offline_queue",
    "batch",
];

async fn dispatch(
    state: &AppState,
    peer: SocketAddr,
    method: &str,
    request: Request<Body>,
) -> Result<Response, Failure> {
    authorize(&state.config.api.key, peer, request.headers())?;
    let body = read_body(request, state.config.api.max_body_size).await?;
    if !METHODS.contains(&method) {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!("unknown method {method:?}; methods: {}", METHODS.join(", ")),
        ));
    }
    let params = parse(&body)?;
    if method == "batch" {
        // Centrifugo answers a batch with `{"replies": […]}`, not wrapped in
        // `result`; its SDKs read it that way.
        let result = batch::call(state, params_of(params)?).await?;
        return Ok(axum::Json(result).into_response());
    }
    Ok(reply::result(run(state, method, params).await?))
}

/// Runs one method (not `batch`) on parsed parameters; `batch` calls this
/// for each of its commands, so both paths are the same code. Methods that
/// act on connections run on every node (see `cluster.rs`).
async fn run(state: &AppState, method: &str, params: Value) -> Result<Value, Failure> {
    if !cluster::NODE_LOCAL_METHODS.contains(&method) {
        return run_here(state, method, params).await;
    }
    let local = run_here(state, method, params.clone()).await?;
    let remote = state.cluster.ask_others(state, method, &params).await;
    Ok(cluster::merge(method, local, remote))
}

/// Runs one method on this node only.
pub(crate) async fn run_here(
    state: &AppState,
    method: &str,
    params: Value,
) -> Result<Value, Failure> {
    match method {
        "info" => json(info::call(state, params_of(params)?).await),
        "connections" => json(connections::call(state, params_of(params)?)),
        "send" => json(send::call(state, params_of(params)?)),
        "disconnect" => json(disconnect::call(state, params_of(params)?)),
        "publish" => json(publish::publish(state, params_of(params)?).await),
        "broadcast" => json(publish::broadcast(state, params_of(params)?).await),
        "presence" => presence::presence(state, params_of(params)?).await,
        "presence_stats" => presence::presence_stats(state, params_of(params)?).await,
        "history" => history::history(state, params_of(params)?).await,
        "history_remove" => history::history_remove(state, params_of(params)?).await,
        "channels" => json(channels::call(state, params_of(params)?)),
        "subscribe" => json(subscriptions::subscribe(state, params_of(params)?).await),
        "unsubscribe" => json(subscriptions::unsubscribe(state, params_of(params)?).await),
        "refresh" => json(users::refresh(state, params_of(params)?)),
        "offline_queue" => json(users::offline_queue(state, params_of(params)?).await),
        other => Err(Failure::bad_params(format!("{other:?} cannot run here"))),
    }
}

fn json<T: serde::Serialize>(result: Result<T, Failure>) -> Result<Value, Failure> {
    // Our result types always serialise.
    result.map(|value| serde_json::to_value(value).unwrap_or(Value::Null))
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

/// Parses a JSON body into an object; an empty body is `{}`, as for `info`.
fn parse(body: &[u8]) -> Result<Value, Failure> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let invalid =
        |message: String| Failure::new(StatusCode::BAD_REQUEST, code::BAD_REQUEST, message);
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(invalid(
            "expected a JSON object with named parameters".into(),
        )),
        Err(err) => Err(invalid(format!("invalid JSON body: {err}"))),
    }
}

/// A method's typed parameters; a field of the wrong type or an unknown
/// field is the caller's mistake in the request body (400).
fn params_of<T: DeserializeOwned>(params: Value) -> Result<T, Failure> {
    serde_json::from_value(params).map_err(|err| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            format!("invalid parameters: {err}"),
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
