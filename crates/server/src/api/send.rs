//! `send`: a message to one connection, a list, an endpoint, a user, or all.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use switchboard_hub::{Format, Target};
use switchboard_protocol::api::{SendRequest, SendResult};
use switchboard_protocol::payload::wrap_envelope;
use switchboard_transport::OutMessage;

use super::{parse_ids, Failure};
use crate::state::AppState;

/// Validates the request, encodes the payload once per format, fans it out.
pub fn call(state: &AppState, request: SendRequest) -> Result<SendResult, Failure> {
    let ids = parse_ids(request.connections.as_deref().unwrap_or_default());
    let one = request
        .connection
        .as_ref()
        .map(|id| parse_ids(std::slice::from_ref(id)));
    let target = match (
        &one,
        &request.connections,
        &request.endpoint,
        &request.user,
        request.all,
    ) {
        (Some(one), None, None, None, None) => match one.first() {
            Some(id) => Target::Connection(*id),
            None => return Ok(SendResult::default()),
        },
        (None, Some(_), None, None, None) => Target::Connections(&ids),
        (None, None, Some(path), None, None) => {
            if state.endpoint(path).is_none() {
                return Err(Failure::bad_params(format!("no endpoint at {path:?}")));
            }
            Target::Endpoint(path)
        }
        (None, None, None, Some(user), None) => Target::User(user),
        (None, None, None, None, Some(true)) => Target::All,
        _ => {
            return Err(Failure::bad_params(
                "give exactly one target: connection, connections, endpoint, user or all: true",
            ))
        }
    };
    let (plain, envelope) = encode(&request)?;
    let push = channels_push(&request);
    let exclude = parse_ids(&request.exclude);
    let delivery = state.hub.send(target, &exclude, |format| match format {
        Format::Plain => Some(plain.clone()),
        Format::Envelope => Some(envelope.clone()),
        Format::ChannelsPush => push.clone(),
    });
    Ok(SendResult {
        delivered: delivery.delivered,
        dropped: delivery.dropped,
    })
}

/// The `message` push for `channels` connections: `data` as is, `text` as
/// a JSON string. Binary has no JSON form, so channels connections skip it.
fn channels_push(request: &SendRequest) -> Option<OutMessage> {
    let data = match (&request.data, &request.text) {
        (Some(data), _) => data.to_string(),
        (None, Some(text)) => serde_json::Value::from(text.as_str()).to_string(),
        (None, None) => return None,
    };
    let raw = serde_json::value::RawValue::from_string(data).ok()?;
    let line = switchboard_protocol::client::Push::Message(&raw).to_line("");
    Some(OutMessage::text(Bytes::from(line)))
}

/// The frame for plain endpoints and the one for envelope endpoints.
fn encode(request: &SendRequest) -> Result<(OutMessage, OutMessage), Failure> {
    match (&request.data, &request.text, &request.binary) {
        (Some(data), None, None) => {
            let plain = Bytes::from(data.to_string());
            let envelope = Bytes::from(wrap_envelope(data).to_string());
            Ok((OutMessage::text(plain), OutMessage::text(envelope)))
        }
        (None, Some(text), None) => {
            let plain = Bytes::from(text.clone());
            let envelope = Bytes::from(wrap_envelope(&text.as_str().into()).to_string());
            Ok((OutMessage::text(plain), OutMessage::text(envelope)))
        }
        (None, None, Some(b64)) => {
            let bytes = BASE64
                .decode(b64)
                .map_err(|err| Failure::bad_params(format!("binary is not valid base64: {err}")))?;
            // Binary frames carry no envelope: there is no JSON to wrap.
            let msg = OutMessage::binary(bytes);
            Ok((msg.clone(), msg))
        }
        _ => Err(Failure::bad_params(
            "give exactly one payload: data (JSON), text or binary (base64)",
        )),
    }
}
