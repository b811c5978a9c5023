//! Where a client's credential is found in the handshake request, in the
//! order of the contract: `Authorization: Bearer`, a
//! `Sec-WebSocket-Protocol` entry `bearer.<token>`, the query parameter.
//! The fourth source, the first message, is the session's business.

use http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use http::HeaderMap;
use switchboard_config::{EndpointAuth, TokenSource};

/// The prefix of a subprotocol entry that carries a token.
pub const SUBPROTOCOL_PREFIX: &str = "bearer.";

/// The subprotocol a browser offers beside `bearer.<token>` for the server
/// to choose: a browser that offered subprotocols fails the connection
/// when the response names none. `new WebSocket(url, ["bearer",
/// "bearer." + token])`.
pub const SUBPROTOCOL_MARKER: &str = "bearer";

/// What the query string shows in place of a credential.
pub const REDACTED: &str = "<redacted>";

/// The credential of the first enabled source that has one, and its source.
pub fn credential(
    headers: &HeaderMap,
    query: Option<&str>,
    auth: &EndpointAuth,
) -> Option<(String, TokenSource)> {
    for source in [
        TokenSource::Header,
        TokenSource::Subprotocol,
        TokenSource::Query,
    ] {
        if !auth.accepts(source) {
            continue;
        }
        let found = match source {
            TokenSource::Header => bearer(headers).or_else(|| header(headers, "x-api-key")),
            TokenSource::Subprotocol => subprotocol(headers),
            TokenSource::Query => query.and_then(|q| query_param(q, &auth.query_param)),
            TokenSource::Connect => None,
        };
        if let Some(token) = found.filter(|t| !t.is_empty()) {
            return Some((token, source));
        }
    }
    None
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    Some(headers.get(name)?.to_str().ok()?.trim().to_owned())
}

/// `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The entries of `Sec-WebSocket-Protocol`.
fn offered(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The first `bearer.<token>` entry of `Sec-WebSocket-Protocol`.
fn subprotocol(headers: &HeaderMap) -> Option<String> {
    offered(headers)
        .find_map(|entry| entry.strip_prefix(SUBPROTOCOL_PREFIX))
        .map(str::to_owned)
}

/// Whether the client offered the [`SUBPROTOCOL_MARKER`].
pub fn offers_marker(headers: &HeaderMap) -> bool {
    offered(headers).any(|entry| entry == SUBPROTOCOL_MARKER)
}

/// The decoded value of `name` in a query string.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The query string with the value of `name` replaced by [`REDACTED`],
/// for anything that shows a request's URL.
pub fn redact_query(query: &str, name: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(query.as_bytes()).map(|(key, value)| {
                let shown = if key == name { REDACTED.into() } else { value };
                (key, shown)
            }),
        )
        .finish()
}

#[cfg(test)]
mod tests {
    use switchboard_config::AuthMode;

    use super::*;

    fn auth(sources: &[TokenSource]) -> EndpointAuth {
        EndpointAuth {
            mode: AuthMode::Jwt,
            sources: sources.to_vec(),
            ..EndpointAuth::default()
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn sources_are_tried_in_order_and_each_can_be_switched_off() {
        use TokenSource::*;
        let h = headers(&[
            ("authorization", "Bearer from-header"),
            ("sec-websocket-protocol", "chat, bearer.from-subprotocol"),
        ]);
        let q = Some("a=1&token=from%20query");
        let all = auth(&[Header, Subprotocol, Query, Connect]);
        let found = |a: &EndpointAuth| credential(&h, q, a);
        assert_eq!(found(&all), Some(("from-header".into(), Header)));
        assert_eq!(
            found(&auth(&[Subprotocol, Query])),
            Some(("from-subprotocol".into(), Subprotocol))
        );
        assert_eq!(found(&auth(&[Query])), Some(("from query".into(), Query)));
        assert_eq!(found(&auth(&[Connect])), None);
        let none = EndpointAuth::default();
        assert_eq!(found(&none), None, "mode none looks nowhere");
    }

    #[test]
    fn header_forms() {
        let a = auth(&[TokenSource::Header]);
        let found = |pairs: &[(&'static str, &str)]| credential(&headers(pairs), None, &a);
        assert_eq!(found(&[("authorization", "bearer t")]).unwrap().0, "t");
        assert_eq!(found(&[("authorization", "Basic dTpw")]), None);
        assert_eq!(found(&[("authorization", "Bearer ")]), None);
        assert_eq!(found(&[("x-api-key", "k")]).unwrap().0, "k");
    }

    #[test]
    fn the_query_value_is_redacted() {
        assert_eq!(
            redact_query("a=1&token=secret&b=x%20y", "token"),
            "a=1&token=%3Credacted%3E&b=x+y"
        );
        assert_eq!(query_param("token=a%2Bb", "token").as_deref(), Some("a+b"));
        assert_eq!(query_param("tokens=x", "token"), None);
    }
}
