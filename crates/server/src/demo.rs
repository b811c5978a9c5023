//! The demo pages under `/demo/` (`[demo] enabled = true`): static files
//! from `demo.dir`, the `centrifuge` SDK from that directory's npm install,
//! `/demo/config.json` (which endpoints and paths the pages use) and
//! `/demo/events` (every sink event, as Server-Sent Events, for the raw
//! console). Files are read per request, so pages can be edited live.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::Path as UrlPath;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use switchboard_config::Mode;
use switchboard_protocol::api::{code, ApiError};
use switchboard_transport::Framing;
use tokio::sync::mpsc;

use crate::reply;
use crate::state::AppState;
use crate::stream::ChunkBody;

/// Where the SDK's browser build is, inside `demo.dir`.
const SDK_FILE: &str = "node_modules/centrifuge/dist/centrifuge.js";
/// Events a slow `/demo/events` reader may fall behind before it misses some.
const EVENTS_QUEUE: usize = 1024;

/// Why the demo cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve the demo: {path} is missing (demo.dir = {dir:?}); {fix}")]
pub struct DemoError {
    dir: PathBuf,
    path: String,
    fix: &'static str,
}

/// Checks at start that `dir` has the pages and the SDK.
pub fn check(dir: &Path) -> Result<(), DemoError> {
    let missing = |name: &str, fix| DemoError {
        dir: dir.to_path_buf(),
        path: dir.join(name).display().to_string(),
        fix,
    };
    if !dir.join("index.html").is_file() {
        return Err(missing(
            "index.html",
            "point demo.dir at the project's demo/ directory",
        ));
    }
    if !dir.join(SDK_FILE).is_file() {
        return Err(missing(
            SDK_FILE,
            "install the centrifuge SDK with `npm ci --prefix <demo.dir>`",
        ));
    }
    Ok(())
}

/// The `/demo` routes.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .route(
            "/demo/",
            get(|state| file(state, UrlPath("index.html".into()))),
        )
        .route("/demo/config.json", get(config))
        .route("/demo/events", get(events))
        .route("/demo/{name}", get(file))
}

async fn file(
    axum::extract::State(state): axum::extract::State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    let dir = &state.config.demo.dir;
    let path = if name == "centrifuge.js" {
        dir.join(SDK_FILE)
    } else {
        match content_type(&name) {
            Some(_) if is_plain_name(&name) => dir.join(&name),
            _ => return not_found(&name),
        }
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let kind = content_type(&name).unwrap_or("application/octet-stream");
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(_) => not_found(&name),
    }
}

/// A file name of the flat demo directory: no separators, no dot files.
fn is_plain_name(name: &str) -> bool {
    !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1;
    Some(match ext {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

fn not_found(name: &str) -> Response {
    let err = ApiError::new(code::METHOD_NOT_FOUND, format!("no demo file {name}"));
    reply::error(StatusCode::NOT_FOUND, err)
}

/// Which endpoints the pages use: the first channels and the first raw one.
async fn config(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let first = |mode: Mode| state.endpoints.iter().find(|e| e.config.mode == mode);
    let path = |p: &str| (!p.is_empty()).then(|| p.to_owned());
    let channels = first(Mode::Channels).map(|e| {
        json!({
            "websocket": e.config.path,
            "sse": path(&e.config.sse_path),
            "http_stream": path(&e.config.http_stream_path),
            "emulation": state.config.server.emulation_path,
        })
    });
    let raw = first(Mode::Raw).map(|e| {
        json!({
            "websocket": e.config.path,
            "sse": path(&e.config.sse_path),
        })
    });
    let body = json!({
        "channels": channels.unwrap_or(Value::Null),
        "raw": raw.unwrap_or(Value::Null),
        "events": "/demo/events",
    });
    axum::Json(body).into_response()
}

/// Every event the sinks receive, as Server-Sent Events, until the client
/// leaves or the server stops.
async fn events(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let mut stream = state.bus.subscribe(EVENTS_QUEUE);
    let (body, chunks) = mpsc::channel::<Bytes>(16);
    let stop = state.lifecycle.stop_accepting.clone();
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => break,
                () = body.closed() => break,
                event = stream.recv() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            let Ok(text) = serde_json::to_vec(&*event) else {
                continue;
            };
            let mut chunk = BytesMut::new();
            Framing::Sse.event(None, &text, &mut chunk);
            if body.send(chunk.freeze()).await.is_err() {
                break;
            }
        }
    });
    let mut response = Response::new(Body::new(ChunkBody::new(chunks)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_of_known_types_are_served() {
        assert!(is_plain_name("chat.html") && content_type("chat.html").is_some());
        assert!(!is_plain_name("../Cargo.toml"));
        assert!(!is_plain_name(".env"));
        assert!(!is_plain_name("a/b.js"));
        assert!(content_type("package-lock.lock").is_none());
    }
}
