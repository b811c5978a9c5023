//! Switchboard's configuration: one typed [`Config`], the single source of
//! truth for the server.
//!
//! Values are layered, later layers winning:
//!
//! 1. built-in defaults ([`Config::default`]),
//! 2. a TOML file (`--config FILE`),
//! 3. environment variables `SWITCHBOARD_SECTION__KEY` (e.g.
//!    `SWITCHBOARD_ENDPOINTS__0__MAX_CONNECTIONS=5`),
//! 4. command-line flags ([`CliOverrides`]).
//!
//! Unknown keys are errors, and every error names the key (or the variable
//! that set it), the bad value, the problem and the fix. The full reference
//! is `docs/CONFIG.md`.
//!
//! ```
//! use switchboard_config::{CliOverrides, Config};
//!
//! let env = vec![("SWITCHBOARD_API__KEY".to_string(), "s3cret".to_string())];
//! let config = Config::load(None, env, &CliOverrides::default()).unwrap();
//! assert_eq!(config.api.key, "s3cret");
//! assert_eq!(config.endpoints[0].path, "/ws");
//! ```

#![deny(missing_docs)]

mod access;
mod auth;
mod broker;
mod channels;
mod de_error;
mod duration;
mod env;
mod error;
mod load;
mod model;
mod nets;
mod path;
mod proxy;
mod sinks;
mod sources;
mod validate;
mod welcome;

#[cfg(test)]
mod tests;

pub use auth::{
    ApiKey, ApiScope, AuthConfig, AuthMode, ClientKey, EndpointAuth, EndpointLimits, JwtConfig,
    TokenSource,
};
pub use broker::{BrokerConfig, BrokerKind};
pub use channels::{Access, ChannelsConfig, Namespace, NamespaceOptions};
pub use error::ConfigError;
pub use load::REDACTED;
pub use model::{
    ApiConfig, CliOverrides, Compression, Config, DeflateConfig, DemoConfig, EndpointConfig,
    EventFormat, HeartbeatConfig, HeartbeatMode, LogConfig, LogFormat, Mode, OverflowPolicy,
    ServerConfig, TlsConfig, DEFAULT_WELCOME_MESSAGE,
};
pub use proxy::{OnError, ProxyConfig};
pub use sinks::{
    Delivery, RedisStreamConfig, SinksConfig, StdoutSinkConfig, WebhookConfig, EVENT_TYPES,
};
pub use welcome::{render_welcome, WELCOME_PLACEHOLDERS};
