//! The stream transports, for clients that cannot open a WebSocket: the
//! `centrifuge` SDK's SSE and HTTP-streaming transports on channels
//! endpoints, plain Server-Sent Events on raw and echo endpoints, and the
//! emulation endpoint that takes what those clients send.
//!
//! - [`open`]: the requests that open a stream (same checks as an upgrade);
//! - [`emulation`]: the POSTs that carry client messages, to this node or
//!   over the control bus to the node holding the session;
//! - [`sessions`]: this node's sessions by id;
//! - [`cors`]: cross-origin answers.
//!
//! The connection itself runs in the transport layer
//! (`switchboard_transport::serve_stream`) with the same handlers as a
//! WebSocket connection, so hub semantics (auth, subscriptions, recovery,
//! presence, limits) are the same.

mod body;
mod cors;
pub mod emulation;
pub mod open;
pub mod sessions;

pub use body::ChunkBody;
pub use sessions::{Delivery, StreamSessions};
