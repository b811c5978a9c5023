//! `disconnect`: close one connection or all of a user's, with a code and
//! reason (the Node-RED "drop" node). Centrifugo's request shape.

use switchboard_hub::{Format, Target};
use switchboard_protocol::api::{DisconnectRequest, DisconnectResult};
use switchboard_protocol::client::disconnect;
use switchboard_transport::close::{is_application_code, MAX_REASON_LEN};
use switchboard_transport::CloseFrame;

use super::{parse_ids, Failure};
use crate::state::AppState;

/// Validates the request and asks the targets to close.
pub fn call(state: &AppState, request: DisconnectRequest) -> Result<DisconnectResult, Failure> {
    let given = match &request.disconnect {
        Some(spec) => {
            if !is_application_code(spec.code) {
                return Err(Failure::bad_params(format!(
                    "disconnect.code {} is not allowed; use 1000 or 3000-4999",
                    spec.code
                )));
            }
            if spec.reason.len() > MAX_REASON_LEN {
                return Err(Failure::bad_params(format!(
                    "disconnect.reason is {} bytes; a close frame holds at most {MAX_REASON_LEN}",
                    spec.reason.len()
                )));
            }
            Some(CloseFrame::new(spec.code, spec.reason.clone()))
        }
        None => None,
    };
    // Without a code: a normal close for raw connections; for channels
    // connections Centrifugo's "force disconnect" (3503), which tells the
    // SDKs not to reconnect — a plain 1000 would make them come right back.
    let frame = |format: Format| match (&given, format) {
        (Some(frame), _) => frame.clone(),
        (None, Format::ChannelsPush) => {
            let code = disconnect::FORCE_NO_RECONNECT;
            CloseFrame::new(code.code, code.reason)
        }
        (None, Format::Plain | Format::Envelope) => CloseFrame::new(1000, "disconnected by server"),
    };
    let whitelist = parse_ids(&request.whitelist);
    let client = request.client.as_ref().or(request.session.as_ref());
    let disconnected = match (client, &request.user) {
        (Some(id), user) => {
            let ids = parse_ids(std::slice::from_ref(id));
            let Some(id) = ids.first() else {
                return Ok(DisconnectResult::default());
            };
            // Centrifugo's `client` with `user` means that user's connection only.
            let owned = match user {
                Some(user) => state
                    .hub
                    .list(Target::Connection(*id))
                    .iter()
                    // Centrifugo names anonymous connections with the empty user.
                    .any(|c| c.user.as_deref().unwrap_or_default() == user.as_str()),
                None => true,
            };
            if owned {
                state
                    .hub
                    .disconnect(Target::Connection(*id), &whitelist, frame)
            } else {
                0
            }
        }
        (None, Some(user)) => state.hub.disconnect(Target::User(user), &whitelist, frame),
        (None, None) => return Err(Failure::bad_params("give client (a connection id) or user")),
    };
    Ok(DisconnectResult { disconnected })
}
