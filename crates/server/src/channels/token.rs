//! Connection tokens in Centrifugo's JWT format, signed with HMAC
//! (`channels.token_hmac_secret`): `sub` is the user, `info` the connection
//! info presence shows, `exp` (optional) when the connection expires.

use bytes::Bytes;
use jsonwebtoken::{decode, errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Who a valid token says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (`sub`).
    pub user: String,
    /// Connection info (`info`, raw JSON).
    pub info: Option<Bytes>,
    /// Expiry (`exp`, Unix seconds), if any.
    pub expires_at: Option<u64>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, wrongly signed, or with an algorithm other than HS256/384/512.
    Invalid,
    /// `exp` has passed: the client should fetch a new token.
    Expired,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    info: Option<serde_json::Value>,
}

/// Verifies a token against the HMAC secret.
pub fn verify(token: &str, secret: &str) -> Result<Identity, TokenError> {
    // Only HMAC algorithms: a token claiming RS256 or `none` is refused
    // outright rather than checked with the secret as a public key.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
    // Centrifugo tokens may omit `exp` (a connection that never expires).
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    let key = DecodingKey::from_secret(secret.as_bytes());
    match decode::<Claims>(token, &key, &validation) {
        Ok(data) => Ok(Identity {
            user: data.claims.sub,
            info: data.claims.info.map(|v| Bytes::from(v.to_string())),
            expires_at: data.claims.exp,
        }),
        Err(err) if matches!(err.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
        Err(_) => Err(TokenError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn token(alg: Algorithm, claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn accepts_hmac_tokens_with_and_without_exp() {
        let t = token(
            Algorithm::HS256,
            json!({"sub": "alice", "info": {"name": "A"}}),
            SECRET,
        );
        let id = verify(&t, SECRET).unwrap();
        assert_eq!(id.user, "alice");
        assert_eq!(id.info.as_deref(), Some(&br#"{"name":"A"}"#[..]));
        assert_eq!(id.expires_at, None);
        let exp = now() + 3600;
        let t = token(Algorithm::HS512, json!({"sub": "bob", "exp": exp}), SECRET);
        assert_eq!(verify(&t, SECRET).unwrap().expires_at, Some(exp));
    }

    #[test]
    fn refuses_bad_tokens() {
        let wrong_key = token(
            Algorithm::HS256,
            json!({"sub": "a"}),
            "another-secret-another-secret-xx",
        );
        assert_eq!(verify(&wrong_key, SECRET), Err(TokenError::Invalid));
        let expired = token(
            Algorithm::HS256,
            json!({"sub": "a", "exp": now() - 3600}),
            SECRET,
        );
        assert_eq!(verify(&expired, SECRET), Err(TokenError::Expired));
        assert_eq!(verify("not.a.token", SECRET), Err(TokenError::Invalid));
        // alg none: header {"alg":"none"}, no signature.
        let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.";
        assert_eq!(verify(none, SECRET), Err(TokenError::Invalid));
    }
}
