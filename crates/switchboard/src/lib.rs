//! Switchboard: a real-time WebSocket server and gateway, as a library.
//!
//! Embed a server in a Tokio program, watch its events, send to its
//! connections:
//!
//! ```no_run
//! use switchboard::{Config, Server};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_toml_str(r#"
//!     [server]
//!     bind = "127.0.0.1:0"
//!     [[endpoints]]
//!     path = "/ws"
//!     welcome = true
//! "#)?;
//! let server = Server::builder().config(config).start().await?;
//! let mut events = server.events(1024);
//! while let Some(event) = events.recv().await {
//!     println!("{}", event.connection.id);
//! }
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The layers are separate crates, re-exported here: [`transport`]
//! (WebSocket framing), [`protocol`] (event and API shapes), [`hub`] (the
//! connection registry), [`sinks`] (event delivery), [`config`].
#![deny(missing_docs)]

pub use switchboard_config as config;
pub use switchboard_hub as hub;
pub use switchboard_protocol as protocol;
pub use switchboard_server::{
    Config, ConfigError, EventStream, Hub, RunningServer, Server, ServerBuilder, ShutdownReport,
    StartError,
};
pub use switchboard_sinks as sinks;
pub use switchboard_transport as transport;
