//! Switchboard's server layer: configuration in, a running server out.
//!
//! It owns the HTTP side — WebSocket endpoint routes, the server API
//! (`POST /api/<method>`), `/healthz`, `/readyz`, `/metrics` — and the
//! process lifecycle. Framing lives in `switchboard-transport`, the
//! connection registry in `switchboard-hub`, event delivery in
//! `switchboard-sinks`.
#![deny(missing_docs)]

mod api;
mod auth;
mod broker_metrics;
mod brokers;
mod channels;
mod cluster;
mod demo;
mod endpoint;
mod health;
mod held;
mod limits;
mod listener;
mod metrics;
mod nodes;
mod proxy;
mod reply;
mod router;
mod server;
mod shutdown;
mod sinks;
mod state;
mod stream;
mod tls;
mod users;
mod ws;

pub use server::{RunningServer, Server, ServerBuilder, ShutdownReport, StartError};
pub use switchboard_config::{Config, ConfigError};
pub use switchboard_hub::Hub;
pub use switchboard_sinks::EventStream;
pub use tls::TlsError;
