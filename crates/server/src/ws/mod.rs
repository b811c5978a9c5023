//! WebSocket endpoints: the upgrade route and the session it starts.

mod client_addr;
mod handlers;
pub(crate) mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use switchboard_hub::ConnectionId;
use switchboard_protocol::api::{code, ApiError};
use switchboard_protocol::event::{ConnectionInfo, Transport};
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
    if let Some(refusal) = draining_refusal(&state, &endpoint) {
        return refusal;
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
    let query = request.uri().query();
    let client = match admit_client(&state, &endpoint, peer, request.headers(), query).await {
        Ok(client) => client,
        Err(refusal) => return refusal,
    };
    auth::handshake::choose_marker(&client.admission, request.headers(), &mut accepted);
    let info = connection_info(
        &client,
        &endpoint,
        request.headers(),
        accepted.subprotocol,
        Transport::Websocket,
    );

    let on_upgrade = hyper::upgrade::on(&mut request);
    let session = client.into_session(state.clone(), endpoint, info, accepted.deflate);
    state.lifecycle.sessions.spawn(session.run(on_upgrade));

    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    *response.headers_mut() = accepted.response_headers;
    response
}

/// New clients are refused with 503 once shutdown has begun.
pub(crate) fn draining_refusal(state: &AppState, endpoint: &Endpoint) -> Option<Response> {
    if !state.lifecycle.is_draining() {
        return None;
    }
    endpoint.counters.reject(RejectReason::Draining);
    let err = ApiError::new(code::NOT_AVAILABLE, "server is shutting down");
    Some(reply::error(StatusCode::SERVICE_UNAVAILABLE, err))
}

/// A client that passed the checks every transport makes.
pub(crate) struct Client {
    pub id: ConnectionId,
    pub remote_addr: String,
    pub admission: auth::Admission,
    ip_slot: Option<Box<IpSlot>>,
}

impl Client {
    /// The session that serves this client.
    pub fn into_session(
        self,
        state: AppState,
        endpoint: Arc<Endpoint>,
        info: Arc<ConnectionInfo>,
        deflate: Option<switchboard_transport::DeflateParams>,
    ) -> session::Session {
        session::Session {
            state,
            endpoint,
            id: self.id,
            info,
            deflate,
            admission: self.admission,
            ip_slot: self.ip_slot,
        }
    }
}

/// The checks after the transport's own: `connections_per_ip` (429) and
/// the endpoint's auth (401, 403, or 503 when the backend cannot answer).
pub(crate) async fn admit_client(
    state: &AppState,
    endpoint: &Arc<Endpoint>,
    peer: SocketAddr,
    headers: &http::HeaderMap,
    query: Option<&str>,
) -> Result<Client, Response> {
    let trusted = &state.config.server.trusted_proxies;
    let ip_slot = take_ip_slot(endpoint, client_ip(peer, headers, trusted))
        .map_err(|(status, err)| reply::error(status, err))?;
    let id = ConnectionId::random();
    let remote_addr = client_addr(peer, headers, trusted);
    let who = auth::handshake::Who {
        client: id.to_string(),
        remote_addr: &remote_addr,
    };
    match auth::admit(state, endpoint, headers, query, who).await {
        Ok(admission) => Ok(Client {
            id,
            remote_addr,
            admission,
            ip_slot,
        }),
        Err((status, err)) => {
            endpoint.counters.reject(RejectReason::Auth);
            tracing::debug!(reason = %err.message, "handshake refused");
            Err(reply::error(status, err))
        }
    }
}

/// What events and the server API show about a new connection.
pub(crate) fn connection_info(
    client: &Client,
    endpoint: &Endpoint,
    headers: &http::HeaderMap,
    subprotocol: Option<String>,
    transport: Transport,
) -> Arc<ConnectionInfo> {
    let text = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(Into::into)
    };
    Arc::new(ConnectionInfo {
        id: client.id.to_string(),
        endpoint: endpoint.path.clone(),
        remote_addr: client.remote_addr.clone(),
        user_agent: text(http::header::USER_AGENT),
        origin: text(http::header::ORIGIN),
        subprotocol: subprotocol.map(String::into_boxed_str),
        user: client
            .admission
            .identity
            .as_ref()
            .map(|i| i.user.as_str().into()),
        transport,
        connected_at: switchboard_protocol::now_rfc3339(),
    })
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
