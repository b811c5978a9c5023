//! Opening a stream connection: `GET <sse_path>` and `POST
//! <http_stream_path>`. The same checks as a WebSocket upgrade (draining,
//! origin, `connections_per_ip`, auth at the handshake), then a long
//! response whose body the connection task writes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use switchboard_config::Mode;
use switchboard_protocol::api::{code, ApiError};
use switchboard_protocol::client::Push;
use switchboard_protocol::event::Transport;
use switchboard_transport::handshake::origin_allowed;
use switchboard_transport::{CloseFrame, CloseMessage, Framing, StreamIo};
use tokio::sync::mpsc;

use super::body::ChunkBody;
use super::cors;
use crate::endpoint::{Endpoint, RejectReason};
use crate::reply;
use crate::state::AppState;
use crate::ws::{admit_client, connection_info, draining_refusal};

/// The query parameter that carries the `centrifuge` SDK's connect command
/// on SSE (an `EventSource` cannot send a body).
const CONNECT_PARAM: &str = "cf_connect";
/// Body chunks waiting for the HTTP layer; beyond them, messages wait in
/// the connection's outbound queue, where its overflow policy applies.
const BODY_CHUNKS: usize = 4;
/// How soon an `EventSource` reconnects to a raw endpoint whose stream ended.
const SSE_RETRY_MS: u32 = 2000;

/// `GET <sse_path>`: a Server-Sent Events connection.
pub async fn sse(
    state: AppState,
    endpoint: Arc<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    if let Some(answer) = not_for_streaming(&request, &endpoint, Method::GET) {
        return answer;
    }
    let first = match endpoint.config.mode {
        Mode::Channels => {
            let params: HashMap<String, String> = Query::try_from_uri(request.uri())
                .map(|q| q.0)
                .unwrap_or_default();
            match params.get(CONNECT_PARAM) {
                Some(connect) => Some(Bytes::from(connect.clone())),
                None => {
                    let err = ApiError::bad_request(format!(
                        "the connect command is missing: pass it in the `{CONNECT_PARAM}` query parameter"
                    ));
                    return reply::error(StatusCode::BAD_REQUEST, err);
                }
            }
        }
        _ => None,
    };
    open(state, endpoint, peer, request, Framing::Sse, first).await
}

/// `POST <http_stream_path>`: an HTTP-streaming connection; the request
/// body holds the connect command.
pub async fn http_stream(
    state: AppState,
    endpoint: Arc<Endpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    if let Some(answer) = not_for_streaming(&request, &endpoint, Method::POST) {
        return answer;
    }
    if is_protobuf(request.headers()) {
        let err = ApiError::bad_request(
            "only the JSON protocol is spoken here; use the SDK's default (JSON) format",
        );
        return reply::error(StatusCode::UNSUPPORTED_MEDIA_TYPE, err);
    }
    let (parts, body) = request.into_parts();
    let max = endpoint.config.max_message_size;
    let first = match http_body_util::Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            let (status, message) = if err.is::<http_body_util::LengthLimitError>() {
                let message = format!("the connect request is larger than {max} bytes");
                (StatusCode::PAYLOAD_TOO_LARGE, message)
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {err}"),
                )
            };
            return reply::error(status, ApiError::bad_request(message));
        }
    };
    let request = Request::from_parts(parts, Body::empty());
    open(state, endpoint, peer, request, Framing::Lines, Some(first)).await
}

/// The answer to a request that does not open a stream: a CORS preflight,
/// or a method other than `opens` (405).
fn not_for_streaming(
    request: &Request<Body>,
    endpoint: &Endpoint,
    opens: Method,
) -> Option<Response> {
    if request.method() == Method::OPTIONS {
        return Some(cors::preflight(
            request.headers(),
            &endpoint.config.allowed_origins,
        ));
    }
    if request.method() != opens {
        return Some(method_not_allowed(opens.as_str(), request.uri().path()));
    }
    None
}

async fn open(
    state: AppState,
    endpoint: Arc<Endpoint>,
    peer: SocketAddr,
    request: Request<Body>,
    framing: Framing,
    first: Option<Bytes>,
) -> Response {
    if let Some(refusal) = draining_refusal(&state, &endpoint) {
        return refusal;
    }
    let allowed = &endpoint.config.allowed_origins;
    if !origin_allowed(request.headers(), allowed) {
        endpoint.counters.reject(RejectReason::Origin);
        let path = &endpoint.config.path;
        let err = ApiError::new(
            code::PERMISSION_DENIED,
            format!("origin not allowed ({path})"),
        );
        return reply::error(StatusCode::FORBIDDEN, err);
    }
    let (parts, _) = request.into_parts();
    let client =
        match admit_client(&state, &endpoint, peer, &parts.headers, parts.uri.query()).await {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
    let transport = match framing {
        Framing::Sse => Transport::Sse,
        Framing::Lines => Transport::HttpStream,
    };
    let info = connection_info(&client, &endpoint, &parts.headers, None, transport);
    let (session, guard, inbox) = state.streams.open(endpoint.config.max_message_size);
    let (body, chunks) = mpsc::channel(BODY_CHUNKS);
    let channels = endpoint.config.mode == Mode::Channels;
    if !channels {
        // A raw or echo client learns where to post from its first event.
        let _ = body.try_send(session_event(&state, &session, &info.id));
    }
    let close_message = close_message(framing, channels);
    let io = StreamIo { body, inbox };
    let run = client
        .into_session(state.clone(), endpoint.clone(), info, None)
        .run_stream(io, framing, first, session, close_message);
    state.lifecycle.sessions.spawn(async move {
        let _registered = guard;
        run.await;
    });

    let content_type = match framing {
        Framing::Sse => "text/event-stream; charset=utf-8",
        Framing::Lines => "application/json",
    };
    let mut response = Response::new(Body::new(ChunkBody::new(chunks)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate, max-age=0"),
    );
    // nginx buffers responses unless told not to.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    cors::allow(&parts.headers, headers);
    response
}

/// The raw SSE client's first event: what it needs to post messages.
fn session_event(state: &AppState, session: &str, connection: &str) -> Bytes {
    let data = serde_json::json!({
        "session": session,
        "node": state.node_uid,
        "connection_id": connection,
        "emulation": state.config.server.emulation_path,
    });
    let mut out = BytesMut::from(format!("retry: {SSE_RETRY_MS}\n").as_bytes());
    Framing::Sse.event(Some("session"), data.to_string().as_bytes(), &mut out);
    out.freeze()
}

/// How a stream says why it ends: the channels protocol's `disconnect`
/// push (the SDK then reconnects or not by its code, as for a WebSocket
/// close code); for raw and echo clients an SSE event named `close`.
fn close_message(framing: Framing, channels: bool) -> CloseMessage {
    if channels {
        Box::new(move |frame: &CloseFrame| {
            let push = Push::Disconnect {
                code: frame.code,
                reason: &frame.reason,
            };
            let mut out = BytesMut::new();
            framing.event(None, push.to_line("").as_bytes(), &mut out);
            out.freeze()
        })
    } else {
        Box::new(move |frame: &CloseFrame| {
            let data = serde_json::json!({ "code": frame.code, "reason": frame.reason });
            let mut out = BytesMut::new();
            framing.event(Some("close"), data.to_string().as_bytes(), &mut out);
            out.freeze()
        })
    }
}

/// Whether a request carries the Protobuf encoding, which is not spoken here.
pub(super) fn is_protobuf(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"))
}

/// 405 naming the one method `path` takes.
pub(super) fn method_not_allowed(allowed: &str, path: &str) -> Response {
    let err = ApiError::bad_request(format!("use {allowed} on {path}"));
    let mut response = reply::error(StatusCode::METHOD_NOT_ALLOWED, err);
    if let Ok(value) = HeaderValue::from_str(allowed) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
