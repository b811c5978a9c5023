//! Switchboard's WebSocket transport: everything between the TCP socket and
//! whole messages.
//!
//! - [`handshake`]: checks an upgrade request, negotiates subprotocol and
//!   permessage-deflate, builds the 101 response headers.
//! - [`serve`]: runs one connection — RFC 6455 framing, fragment assembly,
//!   UTF-8 and size limits, heartbeat, idle and lifetime timers, the close
//!   handshake — and hands each message to a [`Handler`].
//! - [`Outbound`]: the connection's bounded send queue, the only way to send
//!   to it. Cloneable; pushing never waits.
//!
//! This crate knows nothing of channels, JSON or HTTP routes.
//!
//! ```no_run
//! use switchboard_transport::{serve, CloseFrame, ConnectionSettings, Handler, Message,
//!     OutMessage, Outbound, OverflowPolicy, TrafficStats};
//! use tokio_util::sync::CancellationToken;
//!
//! struct Echo(Outbound);
//! impl Handler for Echo {
//!     async fn on_message(&mut self, m: Message) -> Result<(), CloseFrame> {
//!         let out = match m {
//!             Message::Text(b) => OutMessage::text(b),
//!             Message::Binary(b) => OutMessage::binary(b),
//!         };
//!         self.0.send(out).map_err(|e| CloseFrame::new(1008, e.to_string()))
//!     }
//! }
//!
//! # async fn run(stream: tokio::net::TcpStream) {
//! // After answering the upgrade request with `handshake::accept(..)`'s headers:
//! let stats = std::sync::Arc::new(TrafficStats::default());
//! let outbound = Outbound::new(1 << 20, OverflowPolicy::Close, stats.clone());
//! let settings = ConnectionSettings::default();
//! let mut echo = Echo(outbound.clone());
//! let report = serve(stream, bytes::Bytes::new(), None, &settings, outbound,
//!     &stats, &mut echo, CancellationToken::new()).await;
//! println!("closed with {}", report.close.code);
//! # }
//! ```
#![deny(missing_docs)]

pub mod close;
mod connection;
pub mod deflate;
mod error;
mod frame;
pub mod handshake;
mod message;
mod queue;
mod reader;
mod stats;
pub mod stream;

pub use close::CloseFrame;
pub use connection::{serve, ConnectionReport, ConnectionSettings, Heartbeat, Initiator};
pub use deflate::{CompressionMode, DeflateParams, DeflateSettings};
pub use error::ProtocolError;
pub use message::{Handler, Message};
pub use queue::{MessageKind, OutMessage, Outbound, OverflowPolicy, SendError, OVERFLOW_REASON};
pub use stats::TrafficStats;
pub use stream::{serve_stream, CloseMessage, Framing, StreamIo};
