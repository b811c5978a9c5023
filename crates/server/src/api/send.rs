//! `send`: a message to one connection, a list, an endpoint, a user, or all.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use switchboard_hub::{Format, Target};
use switchboard_protocol::api::{SendRequest, SendResult};
use switchboard_protocol::payload::wrap_envelope;
use switchboard_protocol::reply_to;
use switchboard_transport::OutMessage;

use super::{parse_ids, Failure};
use crate::state::AppState;

/// `send` to a `reply_to` handle, on every node: the handle's connection,
/// or when no node has it any more, its user's connections.
pub async fn to_reply_handle(state: &AppState, mut params: Value) -> Result<Value, Failure> {
    let handle = params
        .get("reply_to")
        .and_then(Value::as_str)
        .and_then(reply_to::decode)
        .ok_or_else(|| {
            Failure::bad_params("reply_to must be the reply_to string of an event, unchanged")
        })?;
    let Some(fields) = params.as_object_mut() else {
        return Err(Failure::bad_params("expected a JSON object"));
    };
    fields.remove("reply_to");
    if TARGETS.iter().any(|t| fields.contains_key(*t)) {
        return Err(Failure::bad_params(
            "give reply_to alone, without connection, connections, endpoint, user or all",
        ));
    }
    fields.insert("connection".into(), Value::from(handle.connection));
    let first = Box::pin(super::run(state, "send", params.clone())).await?;
    let delivered = first.get("delivered").and_then(Value::as_u64).unwrap_or(0);
    let (Some(user), true) = (handle.user, delivered == 0) else {
        return Ok(first);
    };
    if let Some(fields) = params.as_object_mut() {
        fields.remove("connection");
        fields.insert("user".into(), Value::from(user.as_str()));
    }
    let mut second = Box::pin(super::run(state, "send", params.clone())).await?;
    let reached = second.get("delivered").and_then(Value::as_u64).unwrap_or(0);
    if let (0, Some(held)) = (reached, &state.held) {
        if let Some(fields) = params.as_object_mut() {
            fields.retain(|k, _| matches!(k.as_str(), "data" | "text" | "binary"));
        }
        let kept = held.hold(&user, &params).await;
        if let Some(result) = second.as_object_mut() {
            result.insert("held".into(), Value::from(kept));
        }
    }
    Ok(second)
}

const TARGETS: [&str; 5] = ["connection", "connections", "endpoint", "user", "all"];

/// Validates the request, encodes the payload once per format, fans it out.
pub fn call(state: &AppState, request: SendRequest) -> Result<SendResult, Failure> {
    if request.reply_to.is_some() {
        // `run` resolves handles before a node-local call.
        return Err(Failure::bad_params("give reply_to alone"));
    }
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
