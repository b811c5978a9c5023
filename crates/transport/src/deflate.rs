//! permessage-deflate (RFC 7692): offer negotiation and the per-connection codec.
//!
//! zlib state is large (about 256 KiB to compress with a 15-bit window), so
//! the codec creates each direction's state only when the first message
//! needs it; an idle connection with compression negotiated costs nothing
//! extra.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::ProtocolError;

/// How an endpoint offers compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionMode {
    /// permessage-deflate is never negotiated.
    #[default]
    Disabled,
    /// The server never keeps context between messages
    /// (`server_no_context_takeover`), so one compressed form of a message
    /// is valid for every connection and state is not kept while idle.
    Shared,
    /// Context takeover as the client asks: better ratio, more memory per connection.
    Dedicated,
}

/// An endpoint's compression settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateSettings {
    /// Whether and how compression is negotiated.
    pub mode: CompressionMode,
    /// Largest LZ77 window the server compresses with (9–15).
    pub server_max_window_bits: u8,
    /// Largest window the server lets clients compress with (9–15).
    pub client_max_window_bits: u8,
    /// zlib level 0–9.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: usize,
}

impl Default for DeflateSettings {
    fn default() -> Self {
        Self {
            mode: CompressionMode::Disabled,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 64,
        }
    }
}

/// The parameters agreed with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's compression window.
    pub server_max_window_bits: u8,
    /// The client's window, when the client offered to be told one.
    pub client_max_window_bits: Option<u8>,
    /// zlib level.
    pub level: u32,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: usize,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` response value.
    pub fn response_header(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            out.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if let Some(bits) = self.client_max_window_bits.filter(|&b| b < 15) {
            out.push_str(&format!("; client_max_window_bits={bits}"));
        }
        out
    }
}

/// Picks the first acceptable permessage-deflate offer from the
/// `Sec-WebSocket-Extensions` header values; `None` when compression is
/// disabled or no offer can be honoured.
pub fn negotiate<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
    settings: &DeflateSettings,
) -> Option<DeflateParams> {
    if settings.mode == CompressionMode::Disabled {
        return None;
    }
    header_values
        .into_iter()
        .flat_map(|value| value.split(','))
        .find_map(|offer| accept_offer(offer, settings))
}

fn accept_offer(offer: &str, settings: &DeflateSettings) -> Option<DeflateParams> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut params = DeflateParams {
        server_no_context_takeover: settings.mode == CompressionMode::Shared,
        client_no_context_takeover: false,
        server_max_window_bits: settings.server_max_window_bits,
        client_max_window_bits: None,
        level: settings.level,
        threshold: settings.threshold,
    };
    let mut seen = Vec::new();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (part, None),
        };
        if seen.contains(&name) {
            return None; // RFC 7692 §7: duplicate parameters make the offer invalid
        }
        seen.push(name);
        match (name, value) {
            ("server_no_context_takeover", None) => params.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => params.client_no_context_takeover = true,
            ("server_max_window_bits", Some(v)) => {
                let bits = window_bits(v)?;
                params.server_max_window_bits = params.server_max_window_bits.min(bits);
            }
            ("client_max_window_bits", None) => {
                params.client_max_window_bits = Some(settings.client_max_window_bits);
            }
            ("client_max_window_bits", Some(v)) => {
                let bits = window_bits(v)?;
                params.client_max_window_bits = Some(settings.client_max_window_bits.min(bits));
            }
            _ => return None,
        }
    }
    // zlib cannot produce a raw deflate stream with an 8-bit window; a client
    // that insists on one gets no compression rather than a broken stream.
    if params.server_max_window_bits < 9 {
        return None;
    }
    Some(params)
}

fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
}

/// The deflate tail that RFC 7692 strips from every compressed message.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// One connection's compression state, both directions.
pub struct DeflateCodec {
    params: DeflateParams,
    compressor: Option<Box<Compress>>,
    decompressor: Option<Box<Decompress>>,
}

impl DeflateCodec {
    /// A codec for the negotiated parameters; no zlib state is allocated yet.
    pub fn new(params: DeflateParams) -> Self {
        Self {
            params,
            compressor: None,
            decompressor: None,
        }
    }

    /// Whether a message of `len` bytes is worth compressing.
    pub fn should_compress(&self, len: usize) -> bool {
        len >= self.params.threshold
    }

    /// The settings that make a compressed message reusable by every
    /// connection with the same ones: without context takeover each message
    /// is compressed from a fresh state, so the output depends only on the
    /// level and window. `None` with context takeover.
    pub fn shared_key(&self) -> Option<(u32, u8)> {
        self.params
            .server_no_context_takeover
            .then_some((self.params.level, self.params.server_max_window_bits))
    }

    /// Compresses one whole message into `out` (RFC 7692 §7.2.1).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let params = self.params;
        let compressor = self.compressor.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(params.level),
                false,
                params.server_max_window_bits,
            ))
        });
        let start = out.len();
        let base_in = compressor.total_in();
        loop {
            out.reserve(input.len() / 2 + 64);
            let consumed = (compressor.total_in() - base_in) as usize;
            // Errors here mean a bug in our use of zlib, not bad input: a
            // sync flush over any bytes always succeeds.
            let _ = compressor.compress_vec(&input[consumed..], out, FlushCompress::Sync);
            let done = (compressor.total_in() - base_in) as usize == input.len();
            if done && out.len() < out.capacity() {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if out.len() == start {
            out.push(0x00);
        }
        if self.params.server_no_context_takeover {
            // Dropping the state frees it while the connection idles.
            self.compressor = None;
        }
    }

    /// Inflates one whole message into `out`, failing with `TooBig` past `limit` bytes.
    pub fn decompress(
        &mut self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        let bits = self.params.client_max_window_bits.unwrap_or(15).max(9);
        let decompressor = self
            .decompressor
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        for chunk in [input, &TAIL[..]] {
            inflate_into(decompressor, chunk, limit, out)?;
        }
        if self.params.client_no_context_takeover {
            self.decompressor = None;
        }
        Ok(())
    }
}

fn inflate_into(
    decompressor: &mut Decompress,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let base_in = decompressor.total_in();
    loop {
        let consumed = (decompressor.total_in() - base_in) as usize;
        if out.len() == out.capacity() {
            let room = limit.saturating_add(1).saturating_sub(out.len());
            if room == 0 {
                return Err(ProtocolError::TooBig { limit });
            }
            // Grow geometrically (amortised copies) but never past the limit.
            out.reserve_exact(room.min(out.len().max(input.len() * 4).max(4096)));
        }
        let before_out = out.len();
        let status = decompressor
            .decompress_vec(&input[consumed..], out, FlushDecompress::Sync)
            .map_err(|_| ProtocolError::BadDeflate)?;
        if out.len() > limit {
            return Err(ProtocolError::TooBig { limit });
        }
        let all_in = (decompressor.total_in() - base_in) as usize == input.len();
        let progressed = out.len() > before_out || !all_in;
        match status {
            Status::StreamEnd => return Ok(()),
            _ if all_in && out.len() < out.capacity() => return Ok(()),
            Status::BufError if !progressed && out.len() < out.capacity() => return Ok(()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: CompressionMode) -> DeflateSettings {
        DeflateSettings {
            mode,
            threshold: 0,
            ..DeflateSettings::default()
        }
    }

    #[test]
    fn negotiates_autobahn_offers() {
        let s = settings(CompressionMode::Dedicated);
        let p = negotiate(
            ["permessage-deflate; client_no_context_takeover; client_max_window_bits"],
            &s,
        )
        .unwrap();
        assert!(p.client_no_context_takeover);
        assert!(!p.server_no_context_takeover);
        assert_eq!(p.client_max_window_bits, Some(15));
        assert_eq!(
            p.response_header(),
            "permessage-deflate; client_no_context_takeover"
        );

        let p = negotiate(["permessage-deflate; server_max_window_bits=9"], &s).unwrap();
        assert_eq!(p.server_max_window_bits, 9);
        assert_eq!(
            p.response_header(),
            "permessage-deflate; server_max_window_bits=9"
        );
    }

    #[test]
    fn shared_mode_always_drops_server_context() {
        let p = negotiate(["permessage-deflate"], &settings(CompressionMode::Shared)).unwrap();
        assert_eq!(
            p.response_header(),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn declines_bad_offers_and_takes_the_next() {
        let s = settings(CompressionMode::Dedicated);
        assert_eq!(negotiate(["x-webkit-deflate-frame"], &s), None);
        assert_eq!(negotiate(["permessage-deflate; foo"], &s), None);
        assert_eq!(
            negotiate(["permessage-deflate; server_max_window_bits=16"], &s),
            None
        );
        assert_eq!(
            negotiate(["permessage-deflate; server_max_window_bits=8"], &s),
            None
        );
        assert_eq!(
            negotiate(
                ["permessage-deflate; client_no_context_takeover; client_no_context_takeover"],
                &s
            ),
            None
        );
        let p = negotiate(["permessage-deflate; bogus, permessage-deflate"], &s).unwrap();
        assert_eq!(p.response_header(), "permessage-deflate");
        assert_eq!(
            negotiate(["permessage-deflate"], &settings(CompressionMode::Disabled)),
            None
        );
    }

    #[test]
    fn round_trips_with_and_without_context() {
        for mode in [CompressionMode::Shared, CompressionMode::Dedicated] {
            let p = negotiate(["permessage-deflate"], &settings(mode)).unwrap();
            let mut server = DeflateCodec::new(p);
            // The server's output is what a client inflates; reuse the codec's
            // inflater with the same context rules to check it.
            let mut client = DeflateCodec::new(DeflateParams {
                client_no_context_takeover: p.server_no_context_takeover,
                ..p
            });
            for msg in [&b""[..], b"hello hello hello hello", &[0u8; 5000][..]] {
                for _ in 0..3 {
                    let mut z = Vec::new();
                    server.compress(msg, &mut z);
                    let mut plain = Vec::new();
                    client.decompress(&z, 1 << 20, &mut plain).unwrap();
                    assert_eq!(plain, msg);
                }
            }
        }
    }

    #[test]
    fn inflate_limit_stops_a_bomb() {
        let p = negotiate(
            ["permessage-deflate"],
            &settings(CompressionMode::Dedicated),
        )
        .unwrap();
        let mut codec = DeflateCodec::new(p);
        let mut z = Vec::new();
        codec.compress(&vec![b'a'; 4 << 20], &mut z);
        assert!(z.len() < 40 << 10, "{}", z.len());
        let mut out = Vec::new();
        let err = codec.decompress(&z, 1 << 20, &mut out).unwrap_err();
        assert_eq!(err, ProtocolError::TooBig { limit: 1 << 20 });
        assert!(out.len() <= (1 << 20) + 1);
    }

    #[test]
    fn garbage_is_bad_deflate() {
        let p = negotiate(
            ["permessage-deflate"],
            &settings(CompressionMode::Dedicated),
        )
        .unwrap();
        let mut codec = DeflateCodec::new(p);
        let mut out = Vec::new();
        assert_eq!(
            codec.decompress(&[0xFF; 32], 1 << 20, &mut out),
            Err(ProtocolError::BadDeflate)
        );
    }
}
