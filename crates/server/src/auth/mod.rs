//! Who a client is: the endpoint's auth at the handshake, the first-message
//! credential for clients that cannot send one in the handshake, token
//! expiry and refresh on raw endpoints, and revoked token ids.

pub mod deadlines;
pub mod handshake;
pub mod raw;
pub mod revoked;

pub use deadlines::Deadlines;
pub use handshake::{admit, Admission};
