//! The HTTP routes of one server.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::{Method, Request, StatusCode, Uri};
use switchboard_protocol::api::{code, ApiError};

use crate::state::AppState;
use crate::{api, health, metrics, reply, ws};

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
        let (state, endpoint) = (state.clone(), endpoint.clone());
        let path = endpoint.config.path.clone();
        let upgrade = move |peer: ConnectInfo<SocketAddr>, request: Request<Body>| {
            ws::upgrade(state.clone(), endpoint.clone(), peer, request)
        };
        router = router.route(&path, get(upgrade));
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
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
