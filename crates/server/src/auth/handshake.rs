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

/// Checks the credential a handshake carries, as the endpoint's
/// `[endpoints.auth]` says.
pub async fn admit(
    state: &AppState,
    endpoint: &Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Admission, Refusal> {
    let auth = &endpoint.config.auth;
    if auth.mode == AuthMode::None {
        return Ok(Admission::default());
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
        // `none` verifies tokens too: a channels connect token is optional there.
        AuthMode::Jwt | AuthMode::None => state.verifier.connect_token(credential).await,
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
