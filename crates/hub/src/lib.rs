//! The hub: which connections exist and how to reach them.
//!
//! A [`Hub`] is a cheap handle (`Arc` inside) to a sharded registry of open
//! connections. Every send — from the server API today, from channels
//! later — goes through [`Hub::send`], which pushes one shared payload onto
//! each target's bounded queue without waiting.
#![deny(missing_docs)]

pub mod channels;
mod flush;
mod registry;
mod target;

pub use channels::{ChannelError, ChannelHub, ChannelOptions, Subscribed, SubscriberRef};
pub use registry::{ConnectionId, Delivery, Entry, Format, Hub, Registration};
pub use target::Target;
