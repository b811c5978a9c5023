//! `channels` endpoints: Centrifugo's client protocol (v2, JSON) on top of
//! the hub's channel operations.
//!
//! - [`session`]: one connection's protocol state and command dispatch;
//! - [`commands`]: each command's checks, hub call and reply;
//! - [`keepalive`]: the protocol-level ping (`{}`) for every session, from
//!   one task rather than a timer per connection;
//! - [`namespaces`]: channel options from the `[channels]` config.

mod auth;
mod backend;
mod commands;
pub mod keepalive;
pub mod namespaces;
mod permissions;
mod session;

pub use session::ChannelsSession;
