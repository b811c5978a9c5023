//! TLS termination with self-signed certificates made here: WSS and
//! HTTPS on the configured port, the client's real address behind the
//! internal bridge, reload (library call and SIGHUP to the binary), and a
//! bad file at reload keeping the old certificate.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use futures_util::SinkExt;
use switchboard::protocol::event::EventType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;

/// A fresh self-signed certificate for localhost, written to `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

fn toml(cert: &Path, key: &Path) -> String {
    format!(
        "[server]\nbind = \"127.0.0.1:0\"\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n[[endpoints]]\npath = \"/ws\"\n",
        cert.display(),
        key.display()
    )
}

/// A TLS client that trusts exactly `trusted`.
fn connector(trusted: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn tls_connect(
    addr: std::net::SocketAddr,
    trusted: &CertificateDer<'static>,
) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector(trusted).connect(name, tcp).await
}

/// The certificate the server presented.
fn presented(tls: &Tls) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

#[tokio::test]
async fn wss_and_https_see_the_real_client_address() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = certificate(dir.path());
    let mut t = TestServer::start(&toml(&cert, &key)).await;
    let addr = t.server.local_addr();

    let tls = tls_connect(addr, &der).await.expect("TLS handshake");
    let client_port = tls.get_ref().0.local_addr().unwrap().port();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/ws", tls)
        .await
        .expect("WebSocket over TLS");
    ws.send(Message::text("over tls")).await.unwrap();
    let event = t.next_event(EventType::Message).await;
    assert_eq!(
        event.connection.remote_addr,
        format!("127.0.0.1:{client_port}")
    );

    // The API over HTTPS: a loopback client without a key is served.
    let mut https = tls_connect(addr, &der).await.unwrap();
    https
        .write_all(b"POST /api/info HTTP/1.1\r\nhost: localhost\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
        .await
        .unwrap();
    let mut response = String::new();
    https
        .read_to_string(&mut response)
        .await
        .unwrap_or_default();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // Plain HTTP on the TLS port gets no WebSocket.
    let plain = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws")),
    )
    .await;
    assert!(!matches!(plain, Ok(Ok(_))), "a plain handshake must fail");
}

#[tokio::test]
async fn reload_swaps_the_certificate_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, first) = certificate(dir.path());
    let t = TestServer::start(&toml(&cert, &key)).await;
    let addr = t.server.local_addr();
    let open = tls_connect(addr, &first).await.unwrap();

    let (_, _, second) = certificate(dir.path());
    t.server.reload_tls().expect("reload");
    let fresh = tls_connect(addr, &second)
        .await
        .expect("new handshakes use the new certificate");
    assert_eq!(presented(&fresh), second);
    assert_eq!(presented(&open), first, "open connections keep theirs");

    std::fs::write(&key, "not a key").unwrap();
    let err = t.server.reload_tls().unwrap_err().to_string();
    assert!(err.contains("server.tls.key_file"), "{err}");
    let still = tls_connect(addr, &second)
        .await
        .expect("the old certificate stays");
    assert_eq!(presented(&still), second);
}

#[tokio::test]
async fn sighup_reloads_the_binarys_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = certificate(dir.path());
    let file = config_file(&toml(&cert, &key));
    let mut bin = BinCommand::new(&["--config", file.path().to_str().unwrap()]).spawn();
    let line = bin
        .stderr_line_containing("switchboard listening on ")
        .await;
    let addr: std::net::SocketAddr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    let (_, _, second) = certificate(dir.path());
    bin.signal("-HUP");
    bin.stderr_line_containing("TLS certificate reloaded").await;
    let tls = tls_connect(addr, &second)
        .await
        .expect("the new certificate is served");
    assert_eq!(presented(&tls), second);
    bin.signal("-TERM");
    assert!(bin.wait_exit().await.success());
}
