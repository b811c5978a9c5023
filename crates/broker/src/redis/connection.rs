//! How the broker reaches Redis: one server or a Redis Cluster, with the
//! credentials and TLS settings of [`RedisOptions`].
//!
//! Commands go through [`Commands`], which hides which of the two it is, so
//! scripts and `AsyncCommands` calls are written once. Pub/sub is always a
//! plain connection to one server (the parent module's docs say why
//! that is enough in a cluster).

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, PubSub};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{
    Client, Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisFuture,
    TlsCertificates, Value,
};

use super::{redacted, RedisOptions, COMMAND_TIMEOUT, CONNECT_TIMEOUT};
use crate::types::BrokerError;

/// The connection commands and scripts go through. Cheap to clone: every
/// clone shares the same connections.
#[derive(Clone)]
pub(crate) enum Commands {
    /// One server; reconnects by itself.
    Single(ConnectionManager),
    /// A Redis Cluster: each command goes to the node owning its key's slot,
    /// following MOVED/ASK and refreshing the slot map by itself.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Commands::Single(c) => c.req_packed_command(cmd),
            Commands::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Commands::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Commands::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Commands::Single(c) => c.get_db(),
            Commands::Cluster(c) => c.get_db(),
        }
    }
}

/// Connects the command connection within [`CONNECT_TIMEOUT`].
///
/// With `lazy`, nothing is connected yet and a Redis that is down is no
/// error: the first command connects (and fails as `Unavailable` while
/// Redis is down). For a cluster, `lazy` connects to the nodes in the
/// background.
pub(crate) async fn connect_commands(
    options: &RedisOptions,
    lazy: bool,
) -> Result<Commands, BrokerError> {
    let addresses = addresses(options)?;
    if options.cluster {
        return connect_cluster(options, addresses, lazy).await;
    }
    let url = &addresses[0];
    let client = client(options, url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let manager = if lazy {
        ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| cannot_connect(&[url], e))?
    } else {
        within_connect_timeout(&[url], ConnectionManager::new_with_config(client, config)).await?
    };
    Ok(Commands::Single(manager))
}

async fn connect_cluster(
    options: &RedisOptions,
    addresses: &[String],
    lazy: bool,
) -> Result<Commands, BrokerError> {
    let nodes = addresses
        .iter()
        .map(|url| connection_info(options, url))
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = ClusterClientBuilder::new(nodes)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(COMMAND_TIMEOUT)
        // The defaults (16 retries, waits from 1.3 s up to minutes) would
        // outlast COMMAND_TIMEOUT; a few quick retries cover redirections
        // and a failover in progress.
        .retries(4)
        .min_retry_wait(50)
        .max_retry_wait(1000);
    if let Some(certificates) = certificates(options)? {
        builder = builder.certs(certificates);
    }
    let client = builder.build().map_err(|e| cannot_connect(addresses, e))?;
    let config = ClusterConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(COMMAND_TIMEOUT);
    let connection = if lazy {
        client.get_pending_async_connection_with_config(config)
    } else {
        within_connect_timeout(addresses, client.get_async_connection_with_config(config)).await?
    };
    Ok(Commands::Cluster(connection))
}

/// A pub/sub connection to the first address that answers, each tried
/// within [`CONNECT_TIMEOUT`]. In a cluster any node will do: classic
/// PUBLISH reaches every node.
pub(crate) async fn connect_pubsub(options: &RedisOptions) -> Result<PubSub, BrokerError> {
    let mut failures = Vec::new();
    for url in addresses(options)? {
        let attempt = async {
            let client = client(options, url)?;
            within_connect_timeout(&[url], client.get_async_pubsub()).await
        };
        match attempt.await {
            Ok(pubsub) => return Ok(pubsub),
            Err(BrokerError::Unavailable(msg)) => failures.push(msg),
            Err(other) => failures.push(other.to_string()),
        }
    }
    Err(BrokerError::Unavailable(format!(
        "redis pub/sub connect: {}",
        failures.join("; ")
    )))
}

/// The addresses to use; more than one only for a cluster.
fn addresses(options: &RedisOptions) -> Result<&[String], BrokerError> {
    let addresses = options.addresses();
    if !options.cluster && addresses.len() > 1 {
        return Err(BrokerError::Unavailable(format!(
            "redis: {} addresses given without cluster mode, but only one server can be used",
            addresses.len()
        )));
    }
    Ok(addresses)
}

/// A client for one server, with the options' credentials and TLS.
fn client(options: &RedisOptions, url: &str) -> Result<Client, BrokerError> {
    let info = connection_info(options, url)?;
    let client = match certificates(options)? {
        Some(certificates) => Client::build_with_tls(info, certificates),
        None => Client::open(info),
    };
    client.map_err(|e| {
        BrokerError::Unavailable(format!("invalid redis address {}: {e}", redacted(url)))
    })
}

/// `url` parsed, with `username`/`password` of the options in place of the
/// URL's, and `tls_insecure` applied.
fn connection_info(options: &RedisOptions, url: &str) -> Result<ConnectionInfo, BrokerError> {
    let invalid = |e: &dyn std::fmt::Display| {
        BrokerError::Unavailable(format!("invalid redis address {}: {e}", redacted(url)))
    };
    let info = url.into_connection_info().map_err(|e| invalid(&e))?;
    if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
        install_crypto_provider();
    }
    let mut settings = info.redis_settings().clone();
    if let Some(username) = &options.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &options.password {
        settings = settings.set_password(password);
    }
    let info = info.set_redis_settings(settings);
    if !options.tls_insecure {
        return Ok(info);
    }
    match info.addr().clone() {
        ConnectionAddr::TcpTls {
            host,
            port,
            tls_params,
            ..
        } => Ok(info.set_addr(ConnectionAddr::TcpTls {
            host,
            port,
            insecure: true,
            tls_params,
        })),
        _ => Err(invalid(&"tls_insecure needs a rediss:// (TLS) address")),
    }
}

/// The CA of `tls_ca_file`, read at each connect so a renewed CA file is
/// picked up by the next reconnect.
fn certificates(options: &RedisOptions) -> Result<Option<TlsCertificates>, BrokerError> {
    let Some(path) = &options.tls_ca_file else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| {
        BrokerError::Unavailable(format!(
            "redis TLS: cannot read the CA file {}: {e}",
            path.display()
        ))
    })?;
    Ok(Some(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    }))
}

/// redis' rustls setup uses the process-wide crypto provider, and rustls
/// cannot choose one by itself when a binary links both `ring` and
/// `aws-lc-rs`; installing ours first makes that a non-issue. An error only
/// means a provider was installed already, which serves as well.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn within_connect_timeout<T>(
    addresses: &[impl AsRef<str>],
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, BrokerError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(cannot_connect(addresses, e)),
        Err(_) => Err(cannot_connect(
            addresses,
            format!("no answer within {CONNECT_TIMEOUT:?}"),
        )),
    }
}

fn cannot_connect(addresses: &[impl AsRef<str>], err: impl std::fmt::Display) -> BrokerError {
    let shown: Vec<String> = addresses.iter().map(|a| redacted(a.as_ref())).collect();
    BrokerError::Unavailable(format!(
        "cannot connect to redis at {}: {err}",
        shown.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use redis::AsyncCommands;

    use super::*;
    use crate::redis::bounded;

    fn dead_address() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "redis://127.0.0.1:{}",
            listener.local_addr().unwrap().port()
        )
    }

    /// Lazy: no error while Redis is down, and a command then fails as
    /// `Unavailable` within the bound instead of hanging.
    async fn lazy_is_quiet_until_used(options: RedisOptions) {
        let started = std::time::Instant::now();
        let mut commands = connect_commands(&options, true).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        let result = bounded("get", commands.get::<_, Option<String>>("k")).await;
        assert!(
            matches!(result, Err(BrokerError::Unavailable(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < COMMAND_TIMEOUT + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn lazy_single_server() {
        lazy_is_quiet_until_used(RedisOptions::new(dead_address(), "x")).await;
    }

    #[tokio::test]
    async fn lazy_cluster() {
        lazy_is_quiet_until_used(RedisOptions::cluster(vec![dead_address()], "x")).await;
    }

    #[test]
    fn options_debug_hides_passwords() {
        let options = RedisOptions {
            password: Some("p4ss".into()),
            ..RedisOptions::new("redis://:u4rl@h:1", "x")
        };
        let shown = format!("{options:?}");
        assert!(
            !shown.contains("p4ss") && !shown.contains("u4rl"),
            "{shown}"
        );
    }
}
