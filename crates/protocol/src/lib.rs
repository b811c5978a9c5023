//! Switchboard's wire shapes, independent of sockets and HTTP:
//!
//! - [`event`]: the events raw endpoints emit to sinks (`connect`,
//!   `message`, `disconnect`, `error`), documented in `docs/EVENTS.md`;
//! - [`payload`]: how a client frame becomes an event's `message`;
//! - [`api`]: the server API's requests, results and error codes, in the
//!   method style of Centrifugo's HTTP API;
//! - [`client`]: Centrifugo's client protocol (v2, JSON) for `channels` endpoints.
#![deny(missing_docs)]

pub mod api;
pub mod client;
pub mod event;
pub mod payload;
pub mod reply_to;

/// The current time as RFC 3339 UTC with milliseconds, the timestamp format of every event.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
