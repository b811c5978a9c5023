//! `revoke_token`: a token id (`jti`) is refused until `expire_at`, and
//! the connections that hold it are closed (channels 3500 "invalid token",
//! raw 1008 "token revoked"). Runs on every node. A node that starts later
//! does not know earlier revocations: give tokens short lifetimes.

use switchboard_auth::unix_now;
use switchboard_protocol::api::{RevokeTokenRequest, RevokeTokenResult};

use super::Failure;
use crate::state::AppState;

/// How long a revocation without `expire_at` lasts.
const DEFAULT_REVOCATION_SECS: u64 = 24 * 3600;

/// Records the revocation and closes the holders on this node.
pub fn call(state: &AppState, request: RevokeTokenRequest) -> Result<RevokeTokenResult, Failure> {
    if request.uid.is_empty() {
        return Err(Failure::bad_params("uid (the token's jti) is required"));
    }
    let until = match request.expire_at {
        0 => unix_now() + DEFAULT_REVOCATION_SECS,
        at => at,
    };
    let closed = state.revoked.revoke_and_close(&request.uid, until);
    Ok(RevokeTokenResult {
        disconnected: closed as u64,
    })
}
