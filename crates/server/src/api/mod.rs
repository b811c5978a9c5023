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
mod revoke;
mod send;
mod sinks;
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
use switchboard_auth::KeyRing;
use switchboard_config::ApiScope;
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

/// The OpenAPI document of the whole HTTP API (`GET /api/openapi.json`),
/// checked against the real routes by the `api_openapi` tests.
const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`.
pub async fn openapi() -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
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
    "revoke_token",
    "sinks",
    "dead_letters",
    "dead_letter_replay",
    "dead_letter_purge",
    "batch",
];

async fn dispatch(
    state: &AppState,
    peer: SocketAddr,
    method: &str,
    request: Request<Body>,
) -> Result<Response, Failure> {
    let scope = authorize(&state.api_keys, peer, request.headers())?;
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
        // `result`; its SDKs read it that way. Each command is checked
        // against the key's scope.
        let result = batch::call(state, scope, params_of(params)?).await?;
        return Ok(axum::Json(result).into_response());
    }
    permitted(scope, method).map_err(|f| Failure {
        status: StatusCode::FORBIDDEN,
        ..f
    })?;
    Ok(reply::result(run(state, method, params).await?))
}

/// Runs one method (not `batch`) on parsed parameters; `batch` calls this
/// for each of its commands, so both paths are the same code. Methods that
/// act on connections run on every node (see `cluster.rs`).
pub(crate) async fn run(state: &AppState, method: &str, params: Value) -> Result<Value, Failure> {
    if method == "send" && params.get("reply_to").is_some() {
        return send::to_reply_handle(state, params).await;
    }
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
        "revoke_token" => json(revoke::call(state, params_of(params)?)),
        "sinks" => Ok(sinks::status(state)),
        "dead_letters" => sinks::list(state, params_of(params)?).await,
        "dead_letter_replay" => sinks::replay(state, params_of(params)?).await,
        "dead_letter_purge" => sinks::purge(state, params_of(params)?).await,
        other => Err(Failure::bad_params(format!("{other:?} cannot run here"))),
    }
}

fn json<T: serde::Serialize>(result: Result<T, Failure>) -> Result<Value, Failure> {
    // Our result types always serialise.
    result.map(|value| serde_json::to_value(value).unwrap_or(Value::Null))
}

/// With keys configured (`api.key`, `[[api.keys]]`), `X-API-Key: KEY` (or
/// Centrifugo's older `Authorization: apikey KEY`) is required, and the
/// key's scope is what the caller may do. Without any, only loopback
/// callers are served (as admin), so an unconfigured server is never open
/// to the network.
fn authorize(keys: &KeyRing, peer: SocketAddr, headers: &HeaderMap) -> Result<ApiScope, Failure> {
    if keys.is_empty() {
        if peer.ip().is_loopback() {
            return Ok(ApiScope::Admin);
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
    match given.and_then(|key| keys.find(key)) {
        Some((_, scope)) => Ok(scope),
        None => Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "missing or wrong X-API-Key",
        )),
    }
}

/// Methods a `read` key may call: they change nothing.
const READ_METHODS: &[&str] = &[
    "info",
    "connections",
    "presence",
    "presence_stats",
    "history",
    "channels",
    "offline_queue",
    "sinks",
    "dead_letters",
];
/// Methods a `publish` key may call besides the read ones.
const PUBLISH_METHODS: &[&str] = &["publish", "broadcast", "send"];

/// Whether a key of `scope` may call `method` (method-level 403 otherwise).
fn permitted(scope: ApiScope, method: &str) -> Result<(), Failure> {
    let needed = if READ_METHODS.contains(&method) {
        ApiScope::Read
    } else if PUBLISH_METHODS.contains(&method) {
        ApiScope::Publish
    } else {
        ApiScope::Admin
    };
    if scope >= needed {
        return Ok(());
    }
    Err(Failure::method(ApiError::new(
        code::PERMISSION_DENIED,
        format!(
            "{method} needs a key with scope {needed:?} or wider; this key's scope is {scope:?}"
        )
        .to_lowercase(),
    )))
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
    fn loopback_only_without_a_key() {
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let none = KeyRing::default();
        assert!(matches!(
            authorize(&none, local, &HeaderMap::new()),
            Ok(ApiScope::Admin)
        ));
        assert!(authorize(&none, remote, &HeaderMap::new()).is_err());
        let mut ring = KeyRing::default();
        ring.add("reader", "k", "", ApiScope::Read);
        let mut h = HeaderMap::new();
        h.insert("x-api-key", "k".parse().unwrap());
        assert!(matches!(authorize(&ring, remote, &h), Ok(ApiScope::Read)));
        h.insert("x-api-key", "other".parse().unwrap());
        assert!(authorize(&ring, remote, &h).is_err());
        assert!(
            authorize(&ring, local, &HeaderMap::new()).is_err(),
            "keys apply to loopback too"
        );
    }

    #[test]
    fn scopes_nest() {
        assert!(permitted(ApiScope::Read, "history").is_ok());
        assert!(permitted(ApiScope::Read, "publish").is_err());
        assert!(permitted(ApiScope::Publish, "publish").is_ok());
        assert!(permitted(ApiScope::Publish, "disconnect").is_err());
        assert!(permitted(ApiScope::Admin, "disconnect").is_ok());
        assert!(permitted(ApiScope::Admin, "revoke_token").is_ok());
    }
}
