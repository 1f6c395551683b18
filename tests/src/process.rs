//! Starting, restarting and stopping the real binaries.

use crate::backend::{self, Backend};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for a Pylon under test.
pub struct PylonBuilder {
    backend: Backend,
    env: Vec<(String, String)>,
    /// MySQL reached through this `host:port` (a [`crate::outage::Gate`]).
    database_via: Option<String>,
    /// Redis reached through this `host:port`.
    redis_via: Option<String>,
}

impl PylonBuilder {
    /// Sets a `PYLON__SECTION__KEY` (or any other) variable for both processes.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// MySQL + Redis: both processes reach MySQL through `addr` (a [`crate::outage::Gate`]).
    pub fn database_via(mut self, addr: std::net::SocketAddr) -> Self {
        self.database_via = Some(addr.to_string());
        self
    }

    /// MySQL + Redis: both processes reach Redis through `addr` (a [`crate::outage::Gate`]).
    pub fn redis_via(mut self, addr: std::net::SocketAddr) -> Self {
        self.redis_via = Some(addr.to_string());
        self
    }

    /// Starts Pylon and waits until both processes answer.
    pub async fn start(self) -> Pylon {
        let name = backend::unique_name();
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("test directory");
        let proxy_port = free_port();
        let control_port = free_port();
        let metrics_port = free_port();
        let mut env = vec![
            (
                "PYLON__SERVER__LISTEN".into(),
                format!("127.0.0.1:{proxy_port}"),
            ),
            (
                "PYLON__SERVER__METRICS_LISTEN".into(),
                format!("127.0.0.1:{metrics_port}"),
            ),
            ("PYLON__SERVER__THREADS".into(), "2".into()),
            (
                "PYLON__CONTROL_PLANE__LISTEN".into(),
                format!("127.0.0.1:{control_port}"),
            ),
            (
                "PYLON__DATA__DIR".into(),
                dir.join("data").display().to_string(),
            ),
            (
                "PYLON__LOG__LEVEL".into(),
                "info,pingora_core=warn,sqlx=warn".into(),
            ),
        ];
        let mut db_name = None;
        match self.backend {
            Backend::Sqlite => {
                env.push((
                    "PYLON__DATABASE__URL".into(),
                    "sqlite://data/pylon.db".into(),
                ));
            }
            Backend::MySqlRedis => {
                backend::require_redis().await;
                let mut url = backend::create_mysql_database(&name).await;
                if let Some(via) = &self.database_via {
                    // mysql://user@host:port/name -> mysql://user@via/name
                    let start = url
                        .find('@')
                        .map_or(url.find("//").unwrap_or(0) + 2, |i| i + 1);
                    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
                    url.replace_range(start..end, via);
                }
                env.push(("PYLON__DATABASE__URL".into(), url));
                let redis = match &self.redis_via {
                    Some(via) => format!("redis://{via}"),
                    None => backend::redis_url(),
                };
                env.push(("PYLON__CACHE__REDIS_URL".into(), redis));
                env.push(("PYLON__CACHE__KEY_PREFIX".into(), format!("{name}:")));
                db_name = Some(name.clone());
            }
        }
        env.extend(self.env);
        let mut pylon = Pylon {
            backend: self.backend,
            base_url: format!("http://127.0.0.1:{proxy_port}"),
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
            control_plane_url: format!("http://127.0.0.1:{control_port}"),
            dir,
            db_name,
            env,
            child: None,
        };
        pylon.spawn().await;
        pylon
    }
}

/// A running Pylon (proxy + control plane) with its own database and files.
pub struct Pylon {
    /// The backend it runs on.
    pub backend: Backend,
    /// The public URL (pylon-proxy).
    pub base_url: String,
    /// The proxy's Prometheus endpoint.
    pub metrics_url: String,
    /// The control plane's internal URL.
    pub control_plane_url: String,
    dir: PathBuf,
    db_name: Option<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Pylon {
    /// Starts Pylon on `backend` with default settings.
    pub async fn start(backend: Backend) -> Pylon {
        Self::builder(backend).start().await
    }

    /// Options for a Pylon on `backend`.
    pub fn builder(backend: Backend) -> PylonBuilder {
        PylonBuilder {
            backend,
            env: Vec::new(),
            database_via: None,
            redis_via: None,
        }
    }

    /// The database URL both processes use.
    pub fn database_url(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "PYLON__DATABASE__URL")
            .map(|(_, v)| match v.strip_prefix("sqlite://") {
                Some(relative) => format!("sqlite://{}", self.dir.join(relative).display()),
                None => v.clone(),
            })
            .unwrap_or_default()
    }

    /// The settings both processes were started with (to build a second node, for example).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Everything both processes logged so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("pylon.log")).unwrap_or_default()
    }

    /// The control plane's process id.
    pub fn control_plane_pid(&self) -> Option<u32> {
        let proxy = self.child.as_ref()?.id();
        pylon_benches::compare::procfs::children(proxy)
            .into_iter()
            .next()
    }

    /// This Pylon's data directory (SQLite file, settlement journal).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The proxy's process id.
    pub fn proxy_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM to the proxy and waits (up to `limit`) until it exits by itself; then
    /// stops the control plane. Returns whether the proxy exited cleanly (status 0).
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let children = pylon_benches::compare::procfs::children(child.id());
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break None,
            }
        };
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in children {
            kill(pid);
        }
        self.child = Some(child);
        self.stop();
        status.is_some_and(|s| s.success())
    }

    /// Starts both processes again (after [`Pylon::stop`] or [`Pylon::terminate`]).
    pub async fn start_again(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Stops both processes abruptly (as a crash would) and starts them again on the same
    /// database and files.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Stops both processes abruptly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            for pid in pylon_benches::compare::procfs::children(child.id()) {
                kill(pid);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the ports are free again.
        let deadline = Instant::now() + Duration::from_secs(10);
        for url in [&self.base_url, &self.control_plane_url] {
            let addr = url.trim_start_matches("http://").to_string();
            while std::net::TcpStream::connect(&addr).is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("pylon.log"))
            .expect("log file");
        let child = Command::new(binary("pylon-proxy"))
            .current_dir(&self.dir)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start pylon-proxy (run `cargo build --bins` first)");
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = client
                .get(format!("{}/api/status", self.base_url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "pylon-proxy exited with {status} during start:\n{}",
                    self.logs()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "Pylon did not become ready in {START_TIMEOUT:?}:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One more pylon-proxy on the same database, cache and control plane (another node).
pub struct ProxyNode {
    /// The node's public URL.
    pub base_url: String,
    child: Child,
}

impl Pylon {
    /// Starts another proxy node sharing this Pylon's database, cache and control plane.
    pub async fn start_node(&self) -> ProxyNode {
        let port = free_port();
        let mut env = self.env.clone();
        env.retain(|(k, _)| k != "PYLON__SERVER__LISTEN" && k != "PYLON__SERVER__METRICS_LISTEN");
        env.push(("PYLON__SERVER__LISTEN".into(), format!("127.0.0.1:{port}")));
        env.push(("PYLON__SERVER__METRICS_LISTEN".into(), String::new()));
        env.push(("PYLON__CONTROL_PLANE__SPAWN".into(), "false".into()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("node-{port}.log")))
            .expect("log file");
        let child = Command::new(binary("pylon-proxy"))
            .current_dir(&self.dir)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start pylon-proxy");
        let node = ProxyNode {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        while !client
            .get(format!("{}/health", node.base_url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "second node did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        node
    }
}

impl Drop for ProxyNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pylon {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- Pylon logs ----\n{}", self.logs());
        }
        if let Some(name) = &self.db_name {
            backend::drop_mysql_database(name);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Ports handed to Pylons under test: below Linux's ephemeral range, so no `bind(0)` (mocks,
/// clients) can take one between this choice and the Pylon's own bind.
const TEST_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port nobody listens on right now, never handed out twice while its Pylon may live: the
/// test processes nextest runs in parallel share a counter in a locked file. (A port from
/// `bind(0)`, released at once, could be handed to two tests, and a test would then talk to
/// another test's Pylon.)
pub fn free_port() -> u16 {
    use std::io::{Read, Seek, Write};
    let path = std::env::temp_dir().join("pylon-test-ports");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .expect("test port counter");
    file.lock().expect("lock the test port counter");
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let mut next: u16 = text.trim().parse().unwrap_or(TEST_PORTS.start);
    for _ in 0..TEST_PORTS.len() {
        let port = if TEST_PORTS.contains(&next) {
            next
        } else {
            TEST_PORTS.start
        };
        next = port + 1;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            let _ = file.set_len(0);
            let _ = file.seek(std::io::SeekFrom::Start(0));
            let _ = file.write_all(next.to_string().as_bytes());
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}");
}

/// The path of a workspace binary: `PYLON_BIN_DIR`, or the target directory of this test.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("PYLON_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    profile_dir.join(name)
}

/// Sends SIGKILL to `pid`.
pub fn kill(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}
