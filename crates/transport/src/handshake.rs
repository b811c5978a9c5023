//! The opening handshake (RFC 6455 §4.2): checks an upgrade request and
//! builds the `101 Switching Protocols` response headers.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderValue};
use sha1::{Digest, Sha1};

use crate::deflate::{self, DeflateParams, DeflateSettings};

const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What an endpoint accepts during the handshake.
#[derive(Debug, Clone, Default)]
pub struct HandshakeSettings {
    /// Origins allowed to connect; empty or containing `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Subprotocols the endpoint speaks, in preference order.
    pub subprotocols: Vec<String>,
    /// Compression offer handling.
    pub deflate: DeflateSettings,
}

/// Why an upgrade request was refused. Each maps to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Not a WebSocket upgrade (a plain GET): 426 Upgrade Required.
    #[error("this endpoint only accepts WebSocket upgrades")]
    UpgradeRequired,
    /// `Sec-WebSocket-Version` is not 13: 426 with the supported version.
    #[error("unsupported WebSocket version; this server speaks version 13")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` missing or not 16 base64 bytes: 400.
    #[error("missing or invalid Sec-WebSocket-Key")]
    BadKey,
    /// The `Origin` is not in the endpoint's `allowed_origins`: 403.
    #[error("origin not allowed")]
    OriginNotAllowed,
}

impl HandshakeError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::UpgradeRequired | Self::UnsupportedVersion => http::StatusCode::UPGRADE_REQUIRED,
            Self::BadKey => http::StatusCode::BAD_REQUEST,
            Self::OriginNotAllowed => http::StatusCode::FORBIDDEN,
        }
    }

    /// Headers the refusal carries (RFC 6455 §4.2.2: advertise the version).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.status() == http::StatusCode::UPGRADE_REQUIRED {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        headers
    }
}

/// An accepted upgrade: what was agreed and the response headers.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The chosen subprotocol, if any.
    pub subprotocol: Option<String>,
    /// Compression parameters, if negotiated.
    pub deflate: Option<DeflateParams>,
    /// Headers for the 101 response.
    pub response_headers: HeaderMap,
}

/// Checks the headers of a GET request against an endpoint's settings.
pub fn accept(
    headers: &HeaderMap,
    settings: &HandshakeSettings,
) -> Result<Accepted, HandshakeError> {
    if !has_token(headers, header::UPGRADE, "websocket")
        || !has_token(headers, header::CONNECTION, "upgrade")
    {
        return Err(HandshakeError::UpgradeRequired);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(HeaderValue::as_bytes)
        .filter(|key| BASE64.decode(key).is_ok_and(|raw| raw.len() == 16))
        .ok_or(HandshakeError::BadKey)?;
    if !origin_allowed(headers, &settings.allowed_origins) {
        return Err(HandshakeError::OriginNotAllowed);
    }

    let subprotocol = choose_subprotocol(headers, &settings.subprotocols);
    let offers = headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let deflate = deflate::negotiate(offers, &settings.deflate);

    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept_key(key)) {
        response_headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    if let Some(value) = subprotocol
        .as_deref()
        .and_then(|p| HeaderValue::from_str(p).ok())
    {
        response_headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    if let Some(value) = deflate.and_then(|p| HeaderValue::from_str(&p.response_header()).ok()) {
        response_headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    Ok(Accepted {
        subprotocol,
        deflate,
        response_headers,
    })
}

/// `Sec-WebSocket-Accept` for a client key (RFC 6455 §4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether a request's `Origin` is in `allowed` (empty or `*`: any). Requests
/// without one (non-browser clients) pass.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    if allowed.is_empty() || allowed.iter().any(|a| a == "*") {
        return true;
    }
    // Non-browser clients send no Origin; the list restricts browsers, which always do.
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or_default();
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

fn choose_subprotocol(headers: &HeaderMap, supported: &[String]) -> Option<String> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    supported
        .iter()
        .find(|s| offered.iter().any(|o| o == s))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]
        .iter()
        .chain(extra)
        {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn rfc_example_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn accepts_a_valid_request() {
        let accepted = accept(&request(&[]), &HandshakeSettings::default()).unwrap();
        assert_eq!(
            accepted.response_headers[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(accepted.deflate.is_none());
    }

    #[test]
    fn refuses_each_bad_request() {
        let s = HandshakeSettings::default();
        let mut plain = request(&[]);
        plain.remove(header::UPGRADE);
        assert_eq!(
            accept(&plain, &s).unwrap_err(),
            HandshakeError::UpgradeRequired
        );
        let v8 = request(&[("sec-websocket-version", "8")]);
        assert_eq!(
            accept(&v8, &s).unwrap_err(),
            HandshakeError::UnsupportedVersion
        );
        let short = request(&[("sec-websocket-key", "c2hvcnQ=")]);
        assert_eq!(accept(&short, &s).unwrap_err(), HandshakeError::BadKey);
        let strict = HandshakeSettings {
            allowed_origins: vec!["https://ok.example".into()],
            ..HandshakeSettings::default()
        };
        let evil = request(&[("origin", "https://evil.example")]);
        assert_eq!(
            accept(&evil, &strict).unwrap_err(),
            HandshakeError::OriginNotAllowed
        );
        assert!(accept(&request(&[("origin", "https://ok.example")]), &strict).is_ok());
    }

    #[test]
    fn picks_the_servers_preferred_subprotocol() {
        let s = HandshakeSettings {
            subprotocols: vec!["v2.json".into(), "v1.json".into()],
            ..HandshakeSettings::default()
        };
        let h = request(&[("sec-websocket-protocol", "v1.json, v2.json")]);
        assert_eq!(
            accept(&h, &s).unwrap().subprotocol.as_deref(),
            Some("v2.json")
        );
        let none = request(&[("sec-websocket-protocol", "mqtt")]);
        assert_eq!(accept(&none, &s).unwrap().subprotocol, None);
    }
}
