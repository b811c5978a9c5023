//! RFC 6455 frame headers: parsing client frames, encoding server frames.

use crate::error::ProtocolError;

/// Frame opcodes (RFC 6455 §5.2). Reserved opcodes are rejected while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// Continuation of a fragmented message.
    Continuation,
    /// First frame of a text message.
    Text,
    /// First frame of a binary message.
    Binary,
    /// Close control frame.
    Close,
    /// Ping control frame.
    Ping,
    /// Pong control frame.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Result<Self, ProtocolError> {
        Ok(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) may interleave with a fragmented message.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A parsed client frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of the message.
    pub fin: bool,
    /// RSV1: the message is compressed (permessage-deflate).
    pub rsv1: bool,
    /// The frame's opcode.
    pub opcode: OpCode,
    /// The client's masking key (client frames are always masked).
    pub mask: [u8; 4],
    /// Payload length in bytes.
    pub payload_len: u64,
}

/// Parses a client frame header from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((header, len)))`
/// with the header's length otherwise. RSV2/RSV3, unmasked frames, reserved
/// opcodes and malformed control frames are protocol errors; whether RSV1 is
/// allowed depends on the negotiated extensions and is checked by the caller.
pub fn parse_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x30 != 0 {
        return Err(ProtocolError::ReservedBits);
    }
    let opcode = OpCode::from_bits(b0 & 0x0F)?;
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    if b1 & 0x80 == 0 {
        return Err(ProtocolError::UnmaskedFrame);
    }
    if opcode.is_control() && (b1 & 0x7F > 125 || !fin) {
        return Err(ProtocolError::BadControlFrame);
    }
    let (payload_len, len_bytes) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(ProtocolError::BadLength);
                }
                (len, 8)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 0),
    };
    let mask_at = 2 + len_bytes;
    let Some(m) = buf.get(mask_at..mask_at + 4) else {
        return Ok(None);
    };
    let header = FrameHeader {
        fin,
        rsv1,
        opcode,
        mask: [m[0], m[1], m[2], m[3]],
        payload_len,
    };
    Ok(Some((header, mask_at + 4)))
}

/// Appends an unmasked server frame header to `out`.
pub fn encode_header(out: &mut Vec<u8>, fin: bool, rsv1: bool, opcode: OpCode, len: usize) {
    let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode.bits();
    out.push(b0);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Unmasks `data` in place. `offset` is the position of `data[0]` in the
/// frame payload, so a payload can be unmasked in pieces.
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let o = offset % 4;
    let mask = [
        mask[o],
        mask[(o + 1) % 4],
        mask[(o + 2) % 4],
        mask[(o + 3) % 4],
    ];
    let word = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(w) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        let mut body = payload.to_vec();
        apply_mask(&mut body, mask, 0);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn parses_each_length_form() {
        for len in [0usize, 125, 126, 65535, 65536] {
            let frame = masked(0x82, &vec![7u8; len]);
            let (h, n) = parse_header(&frame).unwrap().unwrap();
            assert_eq!(h.payload_len, len as u64);
            assert_eq!(h.opcode, OpCode::Binary);
            assert!(h.fin);
            let mut body = frame[n..].to_vec();
            apply_mask(&mut body, h.mask, 0);
            assert!(body.iter().all(|&b| b == 7));
            // Every strict prefix of the header asks for more bytes.
            for cut in 0..n {
                assert_eq!(parse_header(&frame[..cut]).unwrap(), None);
            }
        }
    }

    #[test]
    fn rejects_bad_frames() {
        assert_eq!(
            parse_header(&[0x81, 0x00]),
            Err(ProtocolError::UnmaskedFrame)
        );
        assert_eq!(
            parse_header(&[0xA1, 0x80]),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            parse_header(&[0x83, 0x80]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            parse_header(&[0x09, 0x80]),
            Err(ProtocolError::BadControlFrame)
        );
        assert_eq!(
            parse_header(&[0x89, 0xFE]),
            Err(ProtocolError::BadControlFrame)
        );
        let mut huge = vec![0x82, 0xFF];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse_header(&huge), Err(ProtocolError::BadLength));
    }

    #[test]
    fn mask_in_pieces_equals_mask_at_once() {
        let data: Vec<u8> = (0..100u8).collect();
        let mask = [0xAA, 0x55, 0x0F, 0xF0];
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(13);
        apply_mask(a, mask, 0);
        apply_mask(b, mask, 13);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn encodes_lengths() {
        for (len, header_len) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let mut out = Vec::new();
            encode_header(&mut out, true, false, OpCode::Text, len);
            assert_eq!(out.len(), header_len);
            assert_eq!(out[0], 0x81);
        }
    }
}
