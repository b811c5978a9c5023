//! The Redis broker against a real `redis-server` that wants a password,
//! an ACL user, or TLS (with a CA and server certificate made per test run),
//! and against a Redis Cluster that speaks only TLS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_broker::{
    now_ms, Broker, BrokerError, BrokerHandler, ClientInfo, HistoryOptions, HistoryQuery,
    Publication, RedisBroker, RedisOptions, StreamPosition,
};
use tokio::sync::mpsc;

#[path = "support/redis_cluster.rs"]
mod redis_cluster;

const WAIT: Duration = Duration::from_secs(10);
/// A refused connect must come well before a caller would call it a hang.
const REFUSED_WITHIN: Duration = Duration::from_secs(7);

/// A `redis-server` with extra arguments on a free port, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts with `args`, where `{port}` stands for the chosen port.
    async fn start(args: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let child = Command::new("redis-server")
            .args(&args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let mut server = Self { child, port };
        // Listening is enough: with nothing to load, a server that accepts
        // connections serves them.
        let deadline = Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                server.stop();
                panic!("redis-server {args:?} did not start");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Recorder(mpsc::UnboundedSender<String>);

impl BrokerHandler for Recorder {
    fn on_publication(&self, _: &str, p: Arc<Publication>, _: &StreamPosition) {
        let _ = self.0.send(String::from_utf8_lossy(&p.data).into_owned());
    }
    fn on_join(&self, _: &str, _: Arc<ClientInfo>) {}
    fn on_leave(&self, _: &str, _: Arc<ClientInfo>) {}
}

/// Publishes with history through `options`, receives it over pub/sub and
/// reads it back: commands and pub/sub both work.
async fn round_trip(options: RedisOptions) {
    let broker = RedisBroker::connect(options).await.expect("connect");
    let (tx, mut rx) = mpsc::unbounded_channel();
    broker.set_handler(Arc::new(Recorder(tx)));
    broker.subscribe("chat").await.unwrap();
    let history = HistoryOptions {
        size: 10,
        ttl: Duration::from_secs(60),
    };
    let publication = Publication {
        offset: 0,
        data: Bytes::from_static(b"{\"hello\":1}"),
        info: None,
        tags: BTreeMap::new(),
        time_ms: now_ms(),
    };
    let pos = broker
        .publish("chat", publication, Some(history))
        .await
        .unwrap();
    assert_eq!(pos.offset, 1);
    let got = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "{\"hello\":1}");
    let page = broker
        .history("chat", &HistoryQuery::default(), history)
        .await
        .unwrap();
    assert_eq!(page.publications.len(), 1);
}

/// Connecting fails as `Unavailable`, soon; returns the message.
async fn refused(options: RedisOptions) -> String {
    let started = Instant::now();
    let result = RedisBroker::connect(options).await;
    assert!(
        started.elapsed() < REFUSED_WITHIN,
        "{:?}",
        started.elapsed()
    );
    match result {
        Err(BrokerError::Unavailable(msg)) => msg,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

// ---------------------------------------------------------------- password

#[tokio::test]
async fn password_is_used_and_a_wrong_one_is_refused_clearly() {
    let server = Server::start(&["--port", "{port}", "--requirepass", "s3cret"]).await;
    let url = format!("redis://127.0.0.1:{}", server.port);
    round_trip(RedisOptions {
        password: Some("s3cret".into()),
        ..RedisOptions::new(&url, "pw")
    })
    .await;
    // `password` replaces the one in the URL.
    round_trip(RedisOptions {
        password: Some("s3cret".into()),
        ..RedisOptions::new(format!("redis://:stale@127.0.0.1:{}", server.port), "pw2")
    })
    .await;
    let msg = refused(RedisOptions {
        password: Some("wrong-pw".into()),
        ..RedisOptions::new(&url, "pw")
    })
    .await;
    assert!(msg.contains(&url), "names the address: {msg}");
    assert!(msg.contains("authentication failed"), "says why: {msg}");
    assert!(!msg.contains("wrong-pw"), "no password in messages: {msg}");
}

#[tokio::test]
async fn an_acl_user_logs_in_with_username_and_password() {
    let server = Server::start(&[
        "--port", "{port}", "--user", "app", "on", ">apppw", "~*", "&*", "+@all",
    ])
    .await;
    let url = format!("redis://127.0.0.1:{}", server.port);
    round_trip(RedisOptions {
        username: Some("app".into()),
        password: Some("apppw".into()),
        ..RedisOptions::new(&url, "acl")
    })
    .await;
    let msg = refused(RedisOptions {
        username: Some("app".into()),
        password: Some("nope".into()),
        ..RedisOptions::new(&url, "acl")
    })
    .await;
    assert!(msg.contains("authentication failed"), "{msg}");
}

// ---------------------------------------------------------------- TLS

/// A throwaway CA, and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "switchboard test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        // Cluster nodes also present it as clients, on the cluster bus.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        Self { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

async fn tls_server(pki: &Pki) -> Server {
    let path = |name| pki.file(name).display().to_string();
    let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
    Server::start(&[
        "--port",
        "0",
        "--tls-port",
        "{port}",
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        "no",
    ])
    .await
}

fn tls_options(server: &Server, ca: Option<&Path>) -> RedisOptions {
    RedisOptions {
        tls_ca_file: ca.map(Path::to_owned),
        ..RedisOptions::new(format!("rediss://127.0.0.1:{}", server.port), "tls")
    }
}

#[tokio::test]
async fn tls_with_the_ca_file_publishes_and_reads_history() {
    let pki = Pki::new();
    let server = tls_server(&pki).await;
    round_trip(tls_options(&server, Some(&pki.file("ca.pem")))).await;
}

#[tokio::test]
async fn tls_without_the_ca_is_refused_clearly() {
    let pki = Pki::new();
    let server = tls_server(&pki).await;
    // The system's roots do not know the throwaway CA.
    let msg = refused(tls_options(&server, None)).await;
    assert!(
        msg.contains(&format!("rediss://127.0.0.1:{}", server.port)),
        "{msg}"
    );
    assert!(msg.contains("certificate"), "says why: {msg}");
    // Another CA is no better.
    let other = Pki::new();
    let msg = refused(tls_options(&server, Some(&other.file("ca.pem")))).await;
    assert!(msg.contains("certificate"), "{msg}");
    // A CA file that is gone is named.
    let msg = refused(tls_options(&server, Some(Path::new("/nonexistent/ca.pem")))).await;
    assert!(msg.contains("/nonexistent/ca.pem"), "{msg}");
}

#[tokio::test]
async fn tls_insecure_accepts_an_unknown_certificate() {
    let pki = Pki::new();
    let server = tls_server(&pki).await;
    round_trip(RedisOptions {
        tls_insecure: true,
        ..tls_options(&server, None)
    })
    .await;
}

#[tokio::test]
async fn plain_redis_to_a_tls_port_fails_within_the_bound() {
    let pki = Pki::new();
    let server = tls_server(&pki).await;
    refused(RedisOptions::new(
        format!("redis://127.0.0.1:{}", server.port),
        "plain",
    ))
    .await;
}

#[tokio::test]
async fn tls_cluster_with_the_ca_file() {
    let pki = Pki::new();
    let cluster = redis_cluster::RedisCluster::start_tls(redis_cluster::ClusterTls {
        cert: pki.file("server.pem"),
        key: pki.file("server.key"),
        ca: pki.file("ca.pem"),
    })
    .await;
    round_trip(RedisOptions {
        tls_ca_file: Some(pki.file("ca.pem")),
        ..RedisOptions::cluster(cluster.urls(), "tls-cluster")
    })
    .await;
    // Nodes found through CLUSTER SLOTS are reached with TLS and the CA too.
    let broker = RedisBroker::connect(RedisOptions {
        tls_ca_file: Some(pki.file("ca.pem")),
        ..RedisOptions::cluster(vec![cluster.urls()[0].clone()], "tls-cluster")
    })
    .await
    .unwrap();
    let history = HistoryOptions {
        size: 1,
        ttl: Duration::from_secs(60),
    };
    for channel in ["c1", "c2", "c3"] {
        broker
            .history(channel, &HistoryQuery::default(), history)
            .await
            .unwrap();
    }
    assert_eq!(cluster.nodes_holding_keys().await, 3);
    let msg = refused(RedisOptions::cluster(cluster.urls(), "tls-cluster")).await;
    assert!(msg.contains("certificate"), "{msg}");
}
