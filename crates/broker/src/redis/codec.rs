//! The wire format between nodes and in stored history entries.
//!
//! A small hand-written binary encoding: compact (no base64 for payloads,
//! no field names), total (every byte string round-trips, whatever the
//! payload holds) and cheap to decode. Integers are LEB128 varints, byte
//! strings are a varint length followed by the bytes, optional values are a
//! 0/1 flag byte followed by the value.
//!
//! - publication body: `time_ms`, `data`, optional info, tag count, tags
//!   (key, value)…; the offset is not in the body: it is assigned by the
//!   publish script, which frames the message it PUBLISHes as
//!   `p<offset>:<epoch>:<body>` (the epoch is alphanumeric) and stores the
//!   offset as the history entry's id.
//! - client info: `user`, `client`, optional `conn_info`, optional `chan_info`.
//! - join / leave messages: `j<info>` / `l<info>`.
//! - offline queue entries: `offset` then the publication body (the offset
//!   is known when the publication is queued, after its publish).
//!
//! Decoding never panics: anything malformed is `None`, and the caller logs
//! and skips it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::types::{ClientInfo, Publication, StreamPosition};

/// What arrives on a channel's pub/sub channel.
#[derive(Debug)]
pub(crate) enum Message {
    Publication(Publication, StreamPosition),
    Join(ClientInfo),
    Leave(ClientInfo),
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            put_bytes(out, b);
        }
    }
}

fn put_info(out: &mut Vec<u8>, info: &ClientInfo) {
    put_bytes(out, info.user.as_bytes());
    put_bytes(out, info.client.as_bytes());
    put_opt(out, info.conn_info.as_deref());
    put_opt(out, info.chan_info.as_deref());
}

/// Encodes everything of a publication except its offset.
pub(crate) fn encode_publication_body(p: &Publication) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.data.len() + 32);
    put_varint(&mut out, p.time_ms);
    put_bytes(&mut out, &p.data);
    match &p.info {
        None => out.push(0),
        Some(info) => {
            out.push(1);
            put_info(&mut out, info);
        }
    }
    put_varint(&mut out, p.tags.len() as u64);
    for (k, v) in &p.tags {
        put_bytes(&mut out, k.as_bytes());
        put_bytes(&mut out, v.as_bytes());
    }
    out
}

/// A publication message as the publish script frames it (used from Rust
/// for publications without history: offset 0, empty epoch).
pub(crate) fn encode_publication_message(p: &Publication, position: &StreamPosition) -> Vec<u8> {
    let body = encode_publication_body(p);
    let mut out = Vec::with_capacity(body.len() + 24);
    out.push(b'p');
    out.extend_from_slice(position.offset.to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(position.epoch.as_bytes());
    out.push(b':');
    out.extend_from_slice(&body);
    out
}

/// A publication with its offset, as offline queue entries hold it.
pub(crate) fn encode_queued_publication(p: &Publication) -> Vec<u8> {
    let body = encode_publication_body(p);
    let mut out = Vec::with_capacity(body.len() + 10);
    put_varint(&mut out, p.offset);
    out.extend_from_slice(&body);
    out
}

/// A join (`leave = false`) or leave message.
pub(crate) fn encode_presence_message(info: &ClientInfo, leave: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(if leave { b'l' } else { b'j' });
    put_info(&mut out, info);
    out
}

/// A client info alone (presence hash values).
pub(crate) fn encode_info(info: &ClientInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_info(&mut out, info);
    out
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            n |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        if len > self.buf.len() {
            return None;
        }
        let (b, rest) = self.buf.split_at(len);
        self.buf = rest;
        Some(b)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn opt_bytes(&mut self) -> Option<Option<Bytes>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(Bytes::copy_from_slice(self.bytes()?))),
            _ => None,
        }
    }

    fn info(&mut self) -> Option<ClientInfo> {
        Some(ClientInfo {
            user: self.string()?,
            client: self.string()?,
            conn_info: self.opt_bytes()?,
            chan_info: self.opt_bytes()?,
        })
    }

    fn end(&self) -> Option<()> {
        self.buf.is_empty().then_some(())
    }
}

/// Decodes a publication body (see [`encode_publication_body`]).
pub(crate) fn decode_publication_body(offset: u64, body: &[u8]) -> Option<Publication> {
    let mut r = Reader { buf: body };
    let time_ms = r.varint()?;
    let data = Bytes::copy_from_slice(r.bytes()?);
    let info = match r.byte()? {
        0 => None,
        1 => Some(Arc::new(r.info()?)),
        _ => return None,
    };
    let count = r.varint()?;
    let mut tags = BTreeMap::new();
    for _ in 0..count {
        let k = r.string()?;
        let v = r.string()?;
        tags.insert(k, v);
    }
    r.end()?;
    Some(Publication {
        offset,
        data,
        info,
        tags,
        time_ms,
    })
}

/// Decodes an offline queue entry (see [`encode_queued_publication`]).
pub(crate) fn decode_queued_publication(buf: &[u8]) -> Option<Publication> {
    let mut r = Reader { buf };
    let offset = r.varint()?;
    decode_publication_body(offset, r.buf)
}

/// Decodes a client info alone.
pub(crate) fn decode_info(buf: &[u8]) -> Option<ClientInfo> {
    let mut r = Reader { buf };
    let info = r.info()?;
    r.end()?;
    Some(info)
}

fn split_at_colon(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = buf.iter().position(|&b| b == b':')?;
    Some((&buf[..i], &buf[i + 1..]))
}

/// Decodes a message received on a channel's pub/sub channel.
pub(crate) fn decode_message(buf: &[u8]) -> Option<Message> {
    let (&kind, rest) = buf.split_first()?;
    match kind {
        b'p' => {
            let (offset, rest) = split_at_colon(rest)?;
            let (epoch, body) = split_at_colon(rest)?;
            let offset: u64 = std::str::from_utf8(offset).ok()?.parse().ok()?;
            let epoch = String::from_utf8(epoch.to_vec()).ok()?;
            let publication = decode_publication_body(offset, body)?;
            Some(Message::Publication(
                publication,
                StreamPosition { offset, epoch },
            ))
        }
        b'j' => Some(Message::Join(decode_info(rest)?)),
        b'l' => Some(Message::Leave(decode_info(rest)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info() -> ClientInfo {
        ClientInfo {
            user: "u1".into(),
            client: "c1".into(),
            conn_info: Some(Bytes::from_static(b"{\"a\":1}")),
            chan_info: None,
        }
    }

    #[test]
    fn publication_round_trips_with_position() {
        let p = Publication {
            offset: 7,
            data: Bytes::from_static(b"\x00\xff:binary:"),
            info: Some(Arc::new(info())),
            tags: [("k".to_string(), "v".to_string())].into_iter().collect(),
            time_ms: 1_700_000_000_000,
        };
        let pos = StreamPosition {
            offset: 7,
            epoch: "abc".into(),
        };
        match decode_message(&encode_publication_message(&p, &pos)) {
            Some(Message::Publication(q, qpos)) => {
                assert_eq!(q, p);
                assert_eq!(qpos, pos);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn join_leave_and_garbage() {
        assert!(matches!(
            decode_message(&encode_presence_message(&info(), false)),
            Some(Message::Join(i)) if i == info()
        ));
        assert!(matches!(
            decode_message(&encode_presence_message(&info(), true)),
            Some(Message::Leave(i)) if i == info()
        ));
        for garbage in [&b""[..], b"x", b"p", b"p1", b"p1:e", b"pz:e:", b"j\xff\xff"] {
            assert!(decode_message(garbage).is_none());
        }
    }

    proptest! {
        #[test]
        fn decoding_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_message(&buf);
            let _ = decode_info(&buf);
            let _ = decode_queued_publication(&buf);
        }

        #[test]
        fn bodies_round_trip(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            time in any::<u64>(),
            user in ".{0,8}",
            tags in proptest::collection::btree_map(".{0,4}", ".{0,4}", 0..4),
        ) {
            let p = Publication {
                offset: 3,
                data: Bytes::from(data),
                info: Some(Arc::new(ClientInfo { user, ..Default::default() })),
                tags,
                time_ms: time,
            };
            prop_assert_eq!(decode_publication_body(3, &encode_publication_body(&p)), Some(p.clone()));
            prop_assert_eq!(decode_queued_publication(&encode_queued_publication(&p)), Some(p));
        }
    }
}
