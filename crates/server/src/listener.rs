//! The accept loop: plain HTTP/1.1 on one TCP listener, with upgrades.
//!
//! We drive hyper's HTTP/1 connection ourselves (not `axum::serve`) for two
//! reasons: the upgraded I/O must downcast back to a `TcpStream` (the auto
//! HTTP/1+2 builder wraps it in a private type), and every connection task
//! must be tracked and told to finish at shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower_service::Service as _;

use crate::state::AppState;
use crate::tls::PeerMap;

/// Serves HTTP on every connection accepted until `stop_accepting` is
/// cancelled. Behind TLS, `peers` maps each bridge socket to the client it
/// stands for.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    state: AppState,
    peers: Option<PeerMap>,
) {
    let tasks = state.clone();
    accept_each(listener, &tasks, |stream, peer| {
        let peer = peers
            .as_ref()
            .and_then(|p| {
                p.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&peer)
                    .copied()
            })
            .unwrap_or(peer);
        let task = serve_connection(stream, peer, router.clone(), state.clone());
        tasks.lifecycle.http.spawn(task);
    })
    .await;
}

/// Calls `on_accept` for each connection `listener` accepts, until
/// `stop_accepting` is cancelled.
pub async fn accept_each(
    listener: TcpListener,
    state: &AppState,
    mut on_accept: impl FnMut(TcpStream, SocketAddr),
) {
    let stop = state.lifecycle.stop_accepting.clone();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => on_accept(stream, peer),
            Err(err) => {
                // Usually EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, peer: SocketAddr, router: Router, state: AppState) {
    // Frames are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move {
            Ok::<_, Infallible>(
                router
                    .call(request.map(Body::new))
                    .await
                    .unwrap_or_else(|e| match e {}),
            )
        }
    });
    let mut builder = http1::Builder::new();
    let server = &state.config.server;
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(server.handshake_timeout)
        .max_buf_size(server.max_header_bytes);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stop = state.lifecycle.stop_accepting.clone();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                let refused = &state.http_refused;
                if err.is_parse_too_large() {
                    refused.header_too_large.fetch_add(1, Ordering::Relaxed);
                } else if err.is_timeout() {
                    refused.header_timeout.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(error = %err, %peer, "HTTP connection ended with an error");
            }
        }
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
