//! WebSocket endpoints: the upgrade route and the session it starts.

mod client_addr;
mod handlers;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use switchboard_hub::ConnectionId;
use switchboard_protocol::api::{code, ApiError};
use switchboard_protocol::event::ConnectionInfo;
use switchboard_transport::handshake;

use crate::endpoint::{Endpoint, RejectReason};
use crate::reply;
use crate::state::AppState;

pub use client_addr::client_addr;

/// Handles a request on an endpoint path: refuses it with a JSON error, or
/// answers 101 and starts the connection's session.
pub async fn upgrade(
    state: AppState,
    endpoint: Arc<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request<Body>,
) -> Response {
    if state.lifecycle.is_draining() {
        endpoint.counters.reject(RejectReason::Draining);
        let err = ApiError::new(code::NOT_AVAILABLE, "server is shutting down");
        return reply::error(StatusCode::SERVICE_UNAVAILABLE, err);
    }
    let accepted = match handshake::accept(request.headers(), &endpoint.handshake) {
        Ok(accepted) => accepted,
        Err(err) => {
            endpoint.counters.reject(RejectReason::Handshake);
            let body = ApiError::bad_request(format!("{err} ({})", endpoint.config.path));
            let mut response = reply::error(err.status(), body);
            response.headers_mut().extend(err.headers());
            return response;
        }
    };

    let headers = request.headers();
    let text = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = ConnectionId::random();
    let info = Arc::new(ConnectionInfo {
        id: id.to_string(),
        endpoint: endpoint.config.path.clone(),
        remote_addr: client_addr(peer, headers, &state.config.server.trusted_proxies),
        user_agent: text(http::header::USER_AGENT),
        origin: text(http::header::ORIGIN),
        subprotocol: accepted.subprotocol.clone(),
        user: None,
        connected_at: switchboard_protocol::now_rfc3339(),
    });

    let on_upgrade = hyper::upgrade::on(&mut request);
    let session = session::Session {
        state: state.clone(),
        endpoint,
        id,
        info,
        deflate: accepted.deflate,
    };
    state.lifecycle.sessions.spawn(session.run(on_upgrade));

    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    *response.headers_mut() = accepted.response_headers;
    response
}
