//! Switchboard's credentials layer: who a client is, from what it presents.
//!
//! - [`Verifier`] checks JWTs with the keys of `[auth.jwt]` (HMAC secret,
//!   PEM public keys, a JWKS file or URL), refusing an algorithm that does
//!   not belong to a configured key;
//! - [`Identity`] and [`SubscriptionGrant`] read Centrifugo's claims;
//! - [`KeyRing`] matches API keys in constant time, in clear or hashed;
//! - [`extract`] finds a client's credential in the handshake request.
//!
//! No function here logs a token or a key.

mod claims;
pub mod extract;
mod jwks;
mod jwt;

mod keyring;

pub use claims::{Identity, SubscriptionGrant};
pub use jwt::{SetupError, TokenError, Verifier};
pub use keyring::KeyRing;

/// Seconds since the Unix epoch, as JWT times are.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
