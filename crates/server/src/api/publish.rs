//! `publish` and `broadcast`: the same hub call a client publish makes.

use bytes::Bytes;
use switchboard_protocol::api::{
    BroadcastRequest, BroadcastResult, PublishRequest, PublishResult, Reply,
};

use super::channel_error::{api_error, failure};
use super::Failure;
use crate::state::AppState;

/// The JSON text of the payload; binary payloads and idempotency keys are
/// refused rather than silently mishandled.
fn payload(
    data: Option<&serde_json::Value>,
    b64data: Option<&String>,
    idempotency_key: Option<&String>,
) -> Result<Bytes, Failure> {
    if b64data.is_some() {
        return Err(Failure::bad_params(
            "b64data needs the Protobuf client protocol, which is not supported; send JSON in data",
        ));
    }
    if idempotency_key.is_some() {
        return Err(Failure::bad_params("idempotency_key is not supported yet"));
    }
    let data = data.ok_or_else(|| Failure::bad_params("data is required"))?;
    Ok(Bytes::from(data.to_string()))
}

/// Publishes into one channel.
pub async fn publish(state: &AppState, request: PublishRequest) -> Result<PublishResult, Failure> {
    let data = payload(
        request.data.as_ref(),
        request.b64data.as_ref(),
        request.idempotency_key.as_ref(),
    )?;
    let tags = request.tags.unwrap_or_default();
    let skip_history = request.skip_history.unwrap_or(false);
    let position = state
        .channels
        .publish(&request.channel, data, None, tags, skip_history)
        .await
        .map_err(failure)?;
    Ok(PublishResult {
        offset: position.offset,
        epoch: position.epoch,
    })
}

/// Publishes one payload into many channels; each channel gets its own
/// response, so one bad channel does not fail the others.
pub async fn broadcast(
    state: &AppState,
    request: BroadcastRequest,
) -> Result<BroadcastResult, Failure> {
    let data = payload(
        request.data.as_ref(),
        request.b64data.as_ref(),
        request.idempotency_key.as_ref(),
    )?;
    if request.channels.is_empty() {
        return Err(Failure::bad_params("channels is required"));
    }
    let tags = request.tags.unwrap_or_default();
    let skip_history = request.skip_history.unwrap_or(false);
    let mut responses = Vec::with_capacity(request.channels.len());
    for channel in &request.channels {
        let published = state
            .channels
            .publish(channel, data.clone(), None, tags.clone(), skip_history)
            .await;
        responses.push(match published {
            Ok(position) => Reply::Result(PublishResult {
                offset: position.offset,
                epoch: position.epoch,
            }),
            Err(err) => Reply::Error(api_error(&err)),
        });
    }
    Ok(BroadcastResult { responses })
}
