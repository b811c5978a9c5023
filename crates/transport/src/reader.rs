//! Turns received bytes into whole messages and control events: unmasking,
//! fragment assembly, inflating, UTF-8 and size checks. No socket here, so
//! every rule is unit-testable.

use bytes::{Buf, Bytes, BytesMut};

use crate::close::{is_valid_on_wire, CloseFrame};
use crate::deflate::DeflateCodec;
use crate::error::ProtocolError;
use crate::frame::{apply_mask, parse_header, OpCode};
use crate::message::Message;
use crate::queue::MessageKind;

/// One thing read from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete data message.
    Message(Message),
    /// A ping with its payload (to echo in the pong).
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close frame; `None` when it carried no status code.
    Close(Option<CloseFrame>),
}

struct Partial {
    kind: MessageKind,
    compressed: bool,
    data: Vec<u8>,
}

/// Reassembles client frames.
pub struct FrameReader {
    max_message_size: usize,
    /// A fragmented message being reassembled; boxed, as every connection
    /// keeps a reader and few are ever in the middle of one.
    partial: Option<Box<Partial>>,
}

impl FrameReader {
    /// A reader enforcing `max_message_size` on each message (after inflating).
    pub fn new(max_message_size: usize) -> Self {
        Self {
            max_message_size,
            partial: None,
        }
    }

    /// How many more bytes `buf` needs before the next frame is complete,
    /// so the caller can size its read; 0 when unknown or already complete.
    pub fn bytes_wanted(buf: &[u8]) -> usize {
        match parse_header(buf) {
            Ok(Some((h, header_len))) => {
                let total = header_len as u64 + h.payload_len;
                usize::try_from(total)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(buf.len())
            }
            _ => 0,
        }
    }

    /// Consumes frames from `buf` until one yields an event or more bytes are needed.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        mut codec: Option<&mut DeflateCodec>,
    ) -> Result<Option<Inbound>, ProtocolError> {
        loop {
            let Some((header, header_len)) = parse_header(buf)? else {
                return Ok(None);
            };
            let limit = self.max_message_size as u64;
            let already = self.partial.as_ref().map_or(0, |p| p.data.len() as u64);
            if !header.opcode.is_control() && already + header.payload_len > limit {
                return Err(ProtocolError::TooBig {
                    limit: self.max_message_size,
                });
            }
            // Bounded by max_message_size just above (control frames by 125).
            let payload_len = header.payload_len as usize;
            if buf.len() < header_len + payload_len {
                return Ok(None);
            }
            buf.advance(header_len);
            let mut payload = buf.split_to(payload_len);
            apply_mask(&mut payload, header.mask, 0);
            let payload = payload.freeze();

            if header.rsv1
                && (codec.is_none() || !matches!(header.opcode, OpCode::Text | OpCode::Binary))
            {
                return Err(ProtocolError::ReservedBits);
            }
            let event = match header.opcode {
                OpCode::Ping => Some(Inbound::Ping(payload)),
                OpCode::Pong => Some(Inbound::Pong),
                OpCode::Close => Some(Inbound::Close(parse_close(&payload)?)),
                OpCode::Text | OpCode::Binary => {
                    if self.partial.is_some() {
                        return Err(ProtocolError::ExpectedContinuation);
                    }
                    let kind = if header.opcode == OpCode::Text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    if header.fin && !header.rsv1 {
                        Some(Inbound::Message(finish(kind, payload)?))
                    } else {
                        self.partial = Some(Box::new(Partial {
                            kind,
                            compressed: header.rsv1,
                            data: payload.to_vec(),
                        }));
                        self.complete_if(header.fin, codec.as_deref_mut())?
                    }
                }
                OpCode::Continuation => {
                    let partial = self
                        .partial
                        .as_mut()
                        .ok_or(ProtocolError::UnexpectedContinuation)?;
                    partial.data.extend_from_slice(&payload);
                    self.complete_if(header.fin, codec.as_deref_mut())?
                }
            };
            if event.is_some() {
                return Ok(event);
            }
        }
    }

    fn complete_if(
        &mut self,
        fin: bool,
        codec: Option<&mut DeflateCodec>,
    ) -> Result<Option<Inbound>, ProtocolError> {
        if !fin {
            return Ok(None);
        }
        let Some(partial) = self.partial.take() else {
            return Ok(None);
        };
        let data = match (partial.compressed, codec) {
            (true, Some(codec)) => {
                let mut plain = Vec::new();
                codec.decompress(&partial.data, self.max_message_size, &mut plain)?;
                plain
            }
            (true, None) => return Err(ProtocolError::ReservedBits),
            (false, _) => partial.data,
        };
        Ok(Some(Inbound::Message(finish(
            partial.kind,
            Bytes::from(data),
        )?)))
    }
}

fn finish(kind: MessageKind, data: Bytes) -> Result<Message, ProtocolError> {
    match kind {
        MessageKind::Text => {
            std::str::from_utf8(&data).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Message::Text(data))
        }
        MessageKind::Binary => Ok(Message::Binary(data)),
    }
}

fn parse_close(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::BadClose),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_on_wire(code) {
                return Err(ProtocolError::BadClose);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidUtf8)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::{negotiate, CompressionMode, DeflateSettings};

    /// Encodes a masked client frame.
    fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [9, 8, 7, 6];
        let mut out = vec![b0];
        if payload.len() < 126 {
            out.push(0x80 | payload.len() as u8);
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        let mut body = payload.to_vec();
        apply_mask(&mut body, mask, 0);
        out.extend_from_slice(&body);
        out
    }

    fn read_all(bytes: &[u8], max: usize) -> Result<Vec<Inbound>, ProtocolError> {
        let mut reader = FrameReader::new(max);
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(ev) = reader.next(&mut buf, None)? {
            out.push(ev);
        }
        Ok(out)
    }

    #[test]
    fn joins_fragments_around_a_ping() {
        let mut bytes = frame(0x01, b"hel");
        bytes.extend(frame(0x89, b"p"));
        bytes.extend(frame(0x80, b"lo"));
        let events = read_all(&bytes, 100).unwrap();
        assert_eq!(
            events,
            vec![
                Inbound::Ping(Bytes::from_static(b"p")),
                Inbound::Message(Message::Text(Bytes::from_static(b"hello"))),
            ]
        );
    }

    #[test]
    fn waits_for_a_partial_frame() {
        let bytes = frame(0x82, &[1, 2, 3, 4]);
        let mut reader = FrameReader::new(100);
        let mut buf = BytesMut::from(&bytes[..bytes.len() - 1]);
        assert_eq!(reader.next(&mut buf, None).unwrap(), None);
        assert_eq!(FrameReader::bytes_wanted(&buf), 1);
        buf.extend_from_slice(&bytes[bytes.len() - 1..]);
        assert!(matches!(
            reader.next(&mut buf, None).unwrap(),
            Some(Inbound::Message(_))
        ));
    }

    #[test]
    fn enforces_rules() {
        assert_eq!(
            read_all(&frame(0x80, b"x"), 100),
            Err(ProtocolError::UnexpectedContinuation)
        );
        let mut nested = frame(0x01, b"a");
        nested.extend(frame(0x81, b"b"));
        assert_eq!(
            read_all(&nested, 100),
            Err(ProtocolError::ExpectedContinuation)
        );
        assert_eq!(
            read_all(&frame(0x81, &[0xFF, 0xFE]), 100),
            Err(ProtocolError::InvalidUtf8)
        );
        assert_eq!(
            read_all(&frame(0x82, &[0; 101]), 100),
            Err(ProtocolError::TooBig { limit: 100 })
        );
        let mut split = frame(0x02, &[0; 60]);
        split.extend(frame(0x80, &[0; 60]));
        assert_eq!(
            read_all(&split, 100),
            Err(ProtocolError::TooBig { limit: 100 })
        );
        assert_eq!(
            read_all(&frame(0xC1, b"x"), 100),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            read_all(&frame(0x88, &[3]), 100),
            Err(ProtocolError::BadClose)
        );
        assert_eq!(
            read_all(&frame(0x88, &[0x03, 0xED]), 100),
            Err(ProtocolError::BadClose)
        );
        assert_eq!(
            read_all(&frame(0x88, &[0x03, 0xE8, 0xFF]), 100),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn reads_close_frames() {
        assert_eq!(
            read_all(&frame(0x88, &[]), 100).unwrap(),
            vec![Inbound::Close(None)]
        );
        let events = read_all(&frame(0x88, &[0x0F, 0xA0, b'o', b'k']), 100).unwrap();
        assert_eq!(
            events,
            vec![Inbound::Close(Some(CloseFrame::new(4000, "ok")))]
        );
    }

    #[test]
    fn inflates_compressed_fragments() {
        let settings = DeflateSettings {
            mode: CompressionMode::Dedicated,
            threshold: 0,
            ..DeflateSettings::default()
        };
        let params = negotiate(["permessage-deflate"], &settings).unwrap();
        let mut sender = DeflateCodec::new(params);
        let mut z = Vec::new();
        let text = "compress me ".repeat(50);
        sender.compress(text.as_bytes(), &mut z);
        let (a, b) = z.split_at(z.len() / 2);
        let mut bytes = frame(0x41, a); // RSV1 + text, not final
        bytes.extend(frame(0x80, b));
        let mut codec = DeflateCodec::new(params);
        let mut reader = FrameReader::new(1 << 20);
        let mut buf = BytesMut::from(&bytes[..]);
        let event = reader.next(&mut buf, Some(&mut codec)).unwrap();
        assert_eq!(
            event,
            Some(Inbound::Message(Message::Text(Bytes::from(text))))
        );
        // The same compressed bytes without a negotiated extension are a protocol error.
        assert_eq!(read_all(&bytes, 1 << 20), Err(ProtocolError::ReservedBits));
    }
}
