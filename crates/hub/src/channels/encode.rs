//! Publications and presence events encoded into their push lines, once
//! per publication, whoever receives them.

use bytes::Bytes;
use serde_json::value::RawValue;
use switchboard_broker::{ClientInfo, Publication};
use switchboard_protocol::client::{
    ClientInfoWire, PublicationWire, Push, SubscribeResult, UnsubscribePush,
};
use switchboard_transport::OutMessage;

use super::hub::Subscribed;

/// Borrows raw JSON bytes as a `RawValue`; `None` if they are not JSON
/// (the hub only stores JSON it validated, so this is a guard, not a path).
pub fn raw_json(bytes: &[u8]) -> Option<&RawValue> {
    serde_json::from_slice(bytes).ok()
}

/// The wire form of a client info.
pub fn client_info_wire(info: &ClientInfo) -> ClientInfoWire<'_> {
    ClientInfoWire {
        user: &info.user,
        client: &info.client,
        conn_info: info.conn_info.as_deref().and_then(raw_json),
        chan_info: info.chan_info.as_deref().and_then(raw_json),
    }
}

/// The wire form of a publication.
pub fn publication_wire(publication: &Publication) -> Option<PublicationWire<'_>> {
    Some(PublicationWire {
        data: raw_json(&publication.data)?,
        offset: publication.offset,
        info: publication.info.as_deref().map(client_info_wire),
        tags: (!publication.tags.is_empty()).then_some(&publication.tags),
    })
}

/// The frame pushing `publication` to subscribers of `channel`.
pub fn publication_frame(channel: &str, publication: &Publication) -> Option<OutMessage> {
    let line = Push::Publication(publication_wire(publication)?).to_line(channel);
    Some(OutMessage::text(Bytes::from(line)).shared())
}

/// The frame pushing a join (or, with `leave`, a leave) to subscribers.
pub fn presence_frame(channel: &str, info: &ClientInfo, leave: bool) -> OutMessage {
    let wire = client_info_wire(info);
    let push = if leave {
        Push::Leave(wire)
    } else {
        Push::Join(wire)
    };
    OutMessage::text(Bytes::from(push.to_line(channel)))
}

/// The subscribe result (in a reply, or in a `subscribe` push) for an outcome.
pub fn subscribe_result(outcome: &Subscribed) -> SubscribeResult<'_> {
    let position = outcome.position.as_ref();
    SubscribeResult {
        recoverable: outcome.recoverable,
        positioned: outcome.recoverable,
        epoch: position.map_or("", |p| p.epoch.as_str()),
        offset: position.map_or(0, |p| p.offset),
        publications: outcome
            .publications
            .iter()
            .filter_map(|p| publication_wire(p))
            .collect(),
        recovered: outcome.recovered,
        was_recovering: outcome.was_recovering,
        ..SubscribeResult::default()
    }
}

/// The `subscribe` push of a server-side subscription.
pub fn subscribe_push(channel: &str, outcome: &Subscribed) -> OutMessage {
    OutMessage::text(Bytes::from(
        Push::Subscribe(subscribe_result(outcome)).to_line(channel),
    ))
}

/// The `unsubscribe` push of a server-side unsubscribe.
pub fn unsubscribe_push(channel: &str, code: u32, reason: &str) -> OutMessage {
    OutMessage::text(Bytes::from(
        Push::Unsubscribe(UnsubscribePush { code, reason }).to_line(channel),
    ))
}
