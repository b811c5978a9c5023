//! A real `redis-server` on a free port for tests, killed when dropped.
//! Shared by the broker's contract tests and the server's multi-node tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server has to answer PING.
const WAIT: Duration = Duration::from_secs(10);

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A `redis-server` on a free port, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// With persistence: the data directory (append-only file, fsync on
    /// every write), so a restart keeps every acknowledged write.
    data_dir: Option<std::path::PathBuf>,
}

impl RedisServer {
    pub async fn start() -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(server) = Self::start_on(port).await {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    /// A server that keeps its data across [`restart`](Self::restart)s in `dir`.
    pub async fn start_persistent(dir: &std::path::Path) -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(server) = Self::spawn(port, Some(dir.to_owned())).await {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    /// Starts on `port`; `None` if it does not answer PING within the bound.
    pub async fn start_on(port: u16) -> Option<Self> {
        Self::spawn(port, None).await
    }

    /// Kills the server (as a crash would) and starts it again on the same
    /// port, with its data when persistent, without when not.
    pub async fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(mut fresh) = Self::spawn(self.port, self.data_dir.clone()).await {
                self.child = fresh.child.take();
                return;
            }
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    async fn spawn(port: u16, data_dir: Option<std::path::PathBuf>) -> Option<Self> {
        let mut command = Command::new("redis-server");
        command.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]);
        match &data_dir {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        let mut server = Self {
            child: Some(child),
            port,
            data_dir,
        };
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if ping(port).await {
                return Some(server);
            }
            if let Some(Ok(Some(_))) = server.child.as_mut().map(|c| c.try_wait()) {
                break; // exited: port taken
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill();
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(port: u16) -> bool {
    let Ok(Ok(mut s)) = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    matches!(
        tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut buf)).await,
        Ok(Ok(_)) if &buf == b"+PONG\r\n"
    )
}
