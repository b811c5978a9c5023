//! The endpoint's auth at the handshake: a credential found in the request
//! is checked before the upgrade, so a bad one costs the client a 401 with a
//! JSON body and the server no connection.

use http::{HeaderMap, StatusCode};
use switchboard_auth::{extract, Identity, TokenError};
use switchboard_config::{AuthMode, TokenSource};
use switchboard_protocol::api::{code, ApiError};
use switchboard_transport::handshake::Accepted;

use crate::endpoint::Endpoint;
use crate::state::AppState;

/// What the handshake's credential decided.
#[derive(Debug, Default)]
pub struct Admission {
    /// Who the client is, when it proved it in the handshake. Boxed: the
    /// connection task keeps this for its whole life.
    pub identity: Option<Box<Identity>>,
    /// The client must still send its credential as its first message
    /// (the `connect` source), within the endpoint's `connect_timeout`.
    pub pending: bool,
    /// Where the handshake's credential was found.
    pub source: Option<TokenSource>,
}

/// A refused handshake: its status and JSON error.
pub type Refusal = (StatusCode, ApiError);

fn unauthorized(message: impl Into<String>) -> Refusal {
    (
        StatusCode::UNAUTHORIZED,
        ApiError::new(code::UNAUTHORIZED, message),
    )
}

/// Who is knocking: what a backend proxy is told about the client.
pub struct Who<'a> {
    /// The connection id it will have.
    pub client: String,
    /// Its address.
    pub remote_addr: &'a str,
}

/// Checks the credential a handshake carries, as the endpoint's
/// `[endpoints.auth]` says.
pub async fn admit(
    state: &AppState,
    endpoint: &Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
    who: Who<'_>,
) -> Result<Admission, Refusal> {
    let auth = &endpoint.config.auth;
    match auth.mode {
        AuthMode::None => return Ok(Admission::default()),
        // Channels clients are asked about at their `connect` command,
        // which carries the SDK's `data` and token.
        AuthMode::Proxy if endpoint.config.mode == switchboard_config::Mode::Channels => {
            return Ok(Admission::default())
        }
        AuthMode::Proxy => return ask_proxy(state, endpoint, headers, query, who).await,
        AuthMode::Jwt | AuthMode::ApiKey => {}
    }
    let Some((credential, source)) = extract::credential(headers, query, auth) else {
        if auth.accepts(TokenSource::Connect) {
            return Ok(Admission {
                pending: true,
                ..Admission::default()
            });
        }
        return Err(unauthorized("authentication required"));
    };
    let identity = verify(state, endpoint, &credential)
        .await
        .map_err(|err| unauthorized(err.to_string()))?;
    if state.revoked.contains(&identity.token_id) {
        return Err(unauthorized("token revoked"));
    }
    Ok(Admission {
        identity: Some(Box::new(identity)),
        pending: false,
        source: Some(source),
    })
}

/// A raw client on a `proxy` endpoint: the backend gets the handshake's
/// headers that identify a client and decides.
async fn ask_proxy(
    state: &AppState,
    endpoint: &Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
    who: Who<'_>,
) -> Result<Admission, Refusal> {
    use crate::proxy::{self, Kind, Verdict};
    let Some(backend) = state.proxy.as_ref() else {
        return Err(unauthorized("no proxy.connect_url to ask"));
    };
    let mut request = proxy::base_request(&who.client, "raw");
    request.insert("endpoint".into(), endpoint.config.path.clone().into());
    request.insert("remote_addr".into(), who.remote_addr.into());
    let mut forwarded = serde_json::Map::new();
    for name in FORWARDED_HEADERS {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            forwarded.insert(name.to_owned(), value.into());
        }
    }
    request.insert("headers".into(), forwarded.into());
    if let Some(query) = query {
        request.insert("query".into(), query.into());
    }
    match backend.ask(Kind::Connect, request.into()).await {
        Verdict::Allow(result) => Ok(Admission {
            identity: Some(Box::new(proxy::identity(&result))),
            pending: false,
            source: None,
        }),
        Verdict::Deny { code, message } if code == proxy::UNAVAILABLE => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            ApiError::new(code, message),
        )),
        Verdict::Deny { code, message } => {
            Err((StatusCode::FORBIDDEN, ApiError::new(code, message)))
        }
        Verdict::Disconnect { code, reason } => Err((
            StatusCode::FORBIDDEN,
            ApiError::new(u32::from(code), reason),
        )),
    }
}

/// Handshake headers a backend proxy is shown.
const FORWARDED_HEADERS: [&str; 6] = [
    "authorization",
    "cookie",
    "origin",
    "user-agent",
    "x-api-key",
    "sec-websocket-protocol",
];

/// Checks a credential (from the handshake or a first message) with the
/// endpoint's mode.
pub async fn verify(
    state: &AppState,
    endpoint: &Endpoint,
    credential: &str,
) -> Result<Identity, TokenError> {
    match endpoint.config.auth.mode {
        AuthMode::ApiKey => endpoint
            .keys
            .find(credential)
            .map(|(name, _)| Identity::named(name))
            .ok_or(TokenError::Invalid("unknown key")),
        // `none` verifies tokens too: a channels connect token is optional
        // there. `proxy` endpoints never get here (the backend decides).
        AuthMode::Jwt | AuthMode::None | AuthMode::Proxy => {
            state.verifier.connect_token(credential).await
        }
    }
}

/// A client that sent its token as a subprotocol entry and offered the
/// `bearer` marker gets the marker chosen, unless the endpoint chose a
/// subprotocol of its own: browsers refuse a response that names none.
pub fn choose_marker(admission: &Admission, headers: &HeaderMap, accepted: &mut Accepted) {
    if accepted.subprotocol.is_none()
        && admission.source == Some(TokenSource::Subprotocol)
        && extract::offers_marker(headers)
    {
        accepted.subprotocol = Some(extract::SUBPROTOCOL_MARKER.to_owned());
        accepted.response_headers.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            http::HeaderValue::from_static(extract::SUBPROTOCOL_MARKER),
        );
    }
}
