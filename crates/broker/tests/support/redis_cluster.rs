//! A real three-master Redis Cluster on free ports for tests, every node
//! killed when dropped. No replicas: three masters already spread the
//! slots, and what is tested is slot routing, not failover.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the nodes have to start, and the cluster to agree on its slots.
const WAIT: Duration = Duration::from_secs(20);
const NODES: usize = 3;
/// A cluster node also listens on its port + 10000 (the cluster bus).
const BUS_OFFSET: u16 = 10000;

/// Certificate files for a cluster that speaks only TLS, its bus included.
#[derive(Clone)]
pub struct ClusterTls {
    /// Serves as server and as client certificate (nodes talk to each other).
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// Three `redis-server --cluster-enabled yes` joined into one cluster.
pub struct RedisCluster {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    tls: Option<ClusterTls>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A cluster whose nodes accept only TLS (`rediss://`).
    pub async fn start_tls(tls: ClusterTls) -> Self {
        Self::start_with(Some(tls)).await
    }

    async fn start_with(tls: Option<ClusterTls>) -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(tls.clone()).await {
                Ok(cluster) => return cluster,
                Err(err) => last = err,
            }
        }
        panic!("could not start a redis cluster: {last}");
    }

    async fn try_start(tls: Option<ClusterTls>) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let ports = free_ports();
        let mut cluster = Self {
            children: Vec::new(),
            ports: ports.clone(),
            tls,
            _dir: dir,
        };
        for &port in &ports {
            let conf = cluster._dir.path().join(format!("nodes-{port}.conf"));
            let mut command = Command::new("redis-server");
            match &cluster.tls {
                None => command.args(["--port", &port.to_string()]),
                // The bus port is then the TLS port + 10000.
                Some(tls) => command
                    .args(["--port", "0", "--tls-port", &port.to_string()])
                    .args(["--tls-cluster", "yes", "--tls-auth-clients", "no"])
                    .arg("--tls-cert-file")
                    .arg(&tls.cert)
                    .arg("--tls-key-file")
                    .arg(&tls.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&tls.ca),
            };
            let child = command
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(&conf)
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(cluster._dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install redis-server)");
            cluster.children.push(child);
        }
        let deadline = Instant::now() + WAIT;
        for &port in &ports {
            while cluster.cluster_info(port).await.is_none() {
                if Instant::now() > deadline {
                    return Err(format!("node {port} did not start"));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        cluster.create(deadline)?;
        for &port in &ports {
            while !cluster
                .cluster_info(port)
                .await
                .is_some_and(|info| info.contains("cluster_state:ok"))
            {
                if Instant::now() > deadline {
                    return Err(format!("node {port} never reported cluster_state:ok"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(cluster)
    }

    /// `redis-cli --cluster create`, killed if it outlives `deadline`.
    fn create(&self, deadline: Instant) -> Result<(), String> {
        let mut cli = Command::new("redis-cli");
        if let Some(tls) = &self.tls {
            cli.arg("--tls").arg("--cacert").arg(&tls.ca);
        }
        cli.arg("--cluster").arg("create");
        for port in &self.ports {
            cli.arg(format!("127.0.0.1:{port}"));
        }
        let mut child = cli
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-cli: {e}"))?;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("redis-cli --cluster create: {status}")),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("redis-cli --cluster create did not finish".into());
                }
            }
        }
    }

    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        self.ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect()
    }

    /// How many nodes hold at least one key: shows that a test's channels
    /// really were spread over the cluster.
    pub async fn nodes_holding_keys(&self) -> usize {
        let mut n = 0;
        for &port in &self.ports {
            let mut con = self.connection(port).await.expect("node reachable");
            let size: u64 = redis::cmd("DBSIZE")
                .query_async(&mut con)
                .await
                .expect("DBSIZE");
            n += usize::from(size > 0);
        }
        n
    }
}

impl RedisCluster {
    async fn connection(&self, port: u16) -> Option<redis::aio::MultiplexedConnection> {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        connection_to(format!("{scheme}://127.0.0.1:{port}"), self.tls.as_ref()).await
    }

    async fn cluster_info(&self, port: u16) -> Option<String> {
        let mut con = self.connection(port).await?;
        tokio::time::timeout(
            Duration::from_millis(500),
            redis::cmd("CLUSTER").arg("INFO").query_async(&mut con),
        )
        .await
        .ok()?
        .ok()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Ports that are free, and whose bus ports are free too (held together
/// until all are chosen, so they differ).
fn free_ports() -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < NODES {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let Some(bus) = port.checked_add(BUS_OFFSET) else {
            continue;
        };
        if let Ok(bus_listener) = std::net::TcpListener::bind(("127.0.0.1", bus)) {
            held.push(listener);
            held.push(bus_listener);
            ports.push(port);
        }
    }
    ports
}

async fn connection_to(
    url: String,
    tls: Option<&ClusterTls>,
) -> Option<redis::aio::MultiplexedConnection> {
    let client = match tls {
        None => redis::Client::open(url).ok()?,
        Some(tls) => redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(&tls.ca).ok()?),
            },
        )
        .ok()?,
    };
    tokio::time::timeout(
        Duration::from_millis(500),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()
}
