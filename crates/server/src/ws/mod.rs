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

use crate::auth;
use crate::auth::handshake::Refusal;
use crate::endpoint::{Endpoint, RejectReason};
use crate::limits::IpSlot;
use crate::reply;
use crate::state::AppState;

pub use client_addr::{client_addr, client_ip};

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
    let mut accepted = match handshake::accept(request.headers(), &endpoint.handshake) {
        Ok(accepted) => accepted,
        Err(err) => {
            let reason = match err {
                handshake::HandshakeError::OriginNotAllowed => RejectReason::Origin,
                _ => RejectReason::Handshake,
            };
            endpoint.counters.reject(reason);
            let body = ApiError::bad_request(format!("{err} ({})", endpoint.config.path));
            let mut response = reply::error(err.status(), body);
            response.headers_mut().extend(err.headers());
            return response;
        }
    };

    let trusted = &state.config.server.trusted_proxies;
    let ip_slot = match take_ip_slot(&endpoint, client_ip(peer, request.headers(), trusted)) {
        Ok(slot) => slot,
        Err((status, err)) => return reply::error(status, err),
    };
    let id = ConnectionId::random();
    let remote_addr = client_addr(peer, request.headers(), trusted);
    let who = auth::handshake::Who {
        client: id.to_string(),
        remote_addr: &remote_addr,
    };
    let query = request.uri().query();
    let admission = match auth::admit(&state, &endpoint, request.headers(), query, who).await {
        Ok(admission) => admission,
        Err((status, err)) => {
            endpoint.counters.reject(RejectReason::Auth);
            tracing::debug!(reason = %err.message, "handshake refused");
            return reply::error(status, err);
        }
    };

    auth::handshake::choose_marker(&admission, request.headers(), &mut accepted);
    let headers = request.headers();
    let text = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let info = Arc::new(ConnectionInfo {
        id: id.to_string(),
        endpoint: endpoint.config.path.clone(),
        remote_addr,
        user_agent: text(http::header::USER_AGENT),
        origin: text(http::header::ORIGIN),
        subprotocol: accepted.subprotocol.clone(),
        user: admission.identity.as_ref().map(|i| i.user.clone()),
        connected_at: switchboard_protocol::now_rfc3339(),
    });

    let on_upgrade = hyper::upgrade::on(&mut request);
    let session = session::Session {
        state: state.clone(),
        endpoint,
        id,
        info,
        deflate: accepted.deflate,
        admission,
        ip_slot,
    };
    state.lifecycle.sessions.spawn(session.run(on_upgrade));

    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    *response.headers_mut() = accepted.response_headers;
    response
}

/// A place in the endpoint's `connections_per_ip` (none when unlimited),
/// or the 429 refusal.
fn take_ip_slot(endpoint: &Endpoint, ip: std::net::IpAddr) -> Result<Option<Box<IpSlot>>, Refusal> {
    let max = endpoint.config.limits.connections_per_ip;
    if max == 0 {
        return Ok(None);
    }
    match endpoint.per_ip.try_take(ip, max) {
        Some(slot) => Ok(Some(Box::new(slot))),
        None => {
            endpoint.counters.reject(RejectReason::PerIp);
            let message = format!("more than {max} connections from this address");
            let err = ApiError::new(code::TOO_MANY_REQUESTS, message);
            Err((StatusCode::TOO_MANY_REQUESTS, err))
        }
    }
}
