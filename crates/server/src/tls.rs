//! TLS termination (`[server.tls]`).
//!
//! The public listener speaks TLS (rustls); each connection, once its
//! handshake is done, is bridged to an internal plain listener on
//! 127.0.0.1 that runs the same accept loop as a plain server. So the
//! WebSocket transport keeps driving a `TcpStream` by readiness, as
//! designed, and TLS costs one loopback hop and a copy per connection
//! instead of a second transport. The internal listener maps each bridge
//! socket back to the real client address, so `ConnectInfo`, the API's
//! loopback rule, `connections_per_ip` and events see the client, not the
//! bridge.
//!
//! The certificate is behind a resolver that [`Tls::reload`] swaps (the
//! binary calls it on SIGHUP): new handshakes get the new certificate, open
//! connections keep theirs, and a file that fails to load leaves the old one
//! in place.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::crypto::ring::{default_provider, sign::any_supported_type};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use switchboard_config::TlsConfig;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::listener;
use crate::state::AppState;

/// Why the certificate or key could not be used; names the key.
#[derive(Debug, thiserror::Error)]
#[error("server.tls.{key} ({path}): {problem}")]
pub struct TlsError {
    key: &'static str,
    path: String,
    problem: String,
}

fn error(key: &'static str, path: &Path, problem: impl ToString) -> TlsError {
    TlsError {
        key,
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

/// Reads the chain and key into a certified key.
fn load(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| error("cert_file", cert_file, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error("cert_file", cert_file, e))?;
    if chain.is_empty() {
        return Err(error("cert_file", cert_file, "holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        error(
            "key_file",
            key_file,
            format!("{e}; it must hold a PEM private key (PKCS#8, PKCS#1 or SEC1)"),
        )
    })?;
    let signer = any_supported_type(&key)
        .map_err(|e| error("key_file", key_file, format!("unsupported key: {e}")))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| {
        error(
            "key_file",
            key_file,
            format!("does not match the certificate: {e}"),
        )
    })?;
    Ok(certified)
}

/// The current certificate, swapped on reload.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// TLS settings in force.
pub struct Tls {
    resolver: Arc<Resolver>,
    acceptor: TlsAcceptor,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl Tls {
    /// Loads the files named by `[server.tls]`.
    pub fn new(config: &TlsConfig) -> Result<Self, TlsError> {
        let certified = load(&config.cert_file, &config.key_file)?;
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(certified)),
        });
        let mut server = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| error("cert_file", &config.cert_file, e))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            resolver,
            acceptor: TlsAcceptor::from(Arc::new(server)),
            cert_file: config.cert_file.clone(),
            key_file: config.key_file.clone(),
        })
    }

    /// Reads the files again; on failure the old certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let certified = load(&self.cert_file, &self.key_file)?;
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
        Ok(())
    }
}

/// Bridge sockets' addresses → the real client addresses.
pub type PeerMap = Arc<Mutex<HashMap<SocketAddr, SocketAddr>>>;

/// Removes a bridge's entry when its connection ends.
struct Mapped {
    peers: PeerMap,
    bridge: SocketAddr,
}

impl Drop for Mapped {
    fn drop(&mut self) {
        self.peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.bridge);
    }
}

/// Accepts TLS connections on `public` and bridges each to `internal`.
pub async fn accept_loop(
    public: TcpListener,
    internal: SocketAddr,
    peers: PeerMap,
    state: AppState,
) {
    let Some(acceptor) = state.tls.as_ref().map(|t| t.acceptor.clone()) else {
        return;
    };
    listener::accept_each(public, &state, |stream, peer| {
        let task = bridge(
            stream,
            peer,
            acceptor.clone(),
            internal,
            peers.clone(),
            state.clone(),
        );
        state.lifecycle.http.spawn(task);
    })
    .await;
}

async fn bridge(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    internal: SocketAddr,
    peers: PeerMap,
    state: AppState,
) {
    let _ = stream.set_nodelay(true);
    let timeout = state.config.server.handshake_timeout;
    let mut tls = match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let Ok(mut plain) = connect_mapped(internal, peer, &peers).await else {
        tracing::warn!(%peer, "cannot reach the internal listener");
        return;
    };
    // Ends with either side, or at once when shutdown stops waiting.
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut tls, &mut plain.0) => {}
        () = state.lifecycle.force_close.cancelled() => {}
    }
}

/// Connects to the internal listener from a socket whose address is
/// recorded as standing for `peer` before the connection is made.
async fn connect_mapped(
    internal: SocketAddr,
    peer: SocketAddr,
    peers: &PeerMap,
) -> std::io::Result<(TcpStream, Mapped)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let bridge = socket.local_addr()?;
    peers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(bridge, peer);
    let mapped = Mapped {
        peers: peers.clone(),
        bridge,
    };
    let stream = socket.connect(internal).await?;
    let _ = stream.set_nodelay(true);
    Ok((stream, mapped))
}
