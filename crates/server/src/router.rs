//! The HTTP routes of one server.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use http::{Method, Request, StatusCode, Uri};
use switchboard_protocol::api::{code, ApiError};

use crate::endpoint::Endpoint;
use crate::state::AppState;
use crate::{api, demo, health, metrics, reply, stream, ws};

/// Routes: each endpoint path, `/api/{method}`, `/api/openapi.json`,
/// `/healthz`, `/readyz`, `/metrics`; anything else is a JSON 404.
pub fn build(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/api/openapi.json", get(api::openapi))
        .route("/api/{method}", post(api::call));
    for endpoint in &state.endpoints {
        router = stream_routes(router, &state, endpoint);
        let (state, endpoint) = (state.clone(), endpoint.clone());
        let path = endpoint.config.path.clone();
        let upgrade = move |peer: ConnectInfo<SocketAddr>, request: Request<Body>| {
            ws::upgrade(state.clone(), endpoint.clone(), peer, request)
        };
        router = router.route(&path, get(upgrade));
    }
    if state.config.has_fallback_transports() {
        let path = state.config.server.emulation_path.clone();
        let shared = state.clone();
        let emulation =
            move |request: Request<Body>| stream::emulation::emulation(shared.clone(), request);
        router = router.route(&path, any(emulation));
    }
    if state.config.demo.enabled {
        router = demo::routes(router);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// `sse_path` and `http_stream_path` of one endpoint, when set.
fn stream_routes(
    mut router: Router<AppState>,
    state: &AppState,
    endpoint: &Arc<Endpoint>,
) -> Router<AppState> {
    let config = &endpoint.config;
    if !config.sse_path.is_empty() {
        let (state, endpoint) = (state.clone(), endpoint.clone());
        let sse = move |peer: ConnectInfo<SocketAddr>, request: Request<Body>| {
            stream::open::sse(state.clone(), endpoint.clone(), peer, request)
        };
        router = router.route(&config.sse_path, any(sse));
    }
    if !config.http_stream_path.is_empty() {
        let (state, endpoint) = (state.clone(), endpoint.clone());
        let http_stream = move |peer: ConnectInfo<SocketAddr>, request: Request<Body>| {
            stream::open::http_stream(state.clone(), endpoint.clone(), peer, request)
        };
        router = router.route(&config.http_stream_path, any(http_stream));
    }
    router
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let err = ApiError::new(
        code::METHOD_NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    );
    reply::error(StatusCode::NOT_FOUND, err)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let err = ApiError::bad_request(format!("{method} is not allowed on {}", uri.path()));
    reply::error(StatusCode::METHOD_NOT_ALLOWED, err)
}
