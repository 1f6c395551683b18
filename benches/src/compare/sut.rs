//! A system under test as the scenarios see it: where to send each kind of request (URL and
//! model), the key, the process tree to measure, and the processes and resources to release
//! when it is stopped.

use super::procfs::Tree;
use super::procs::Spawned;
use super::results::SystemKind;
use super::upstreams::{Mocks, Upstream};

/// Where the relay's chat endpoint lives under a base URL.
pub const CHAT_PATH: &str = "/v1/chat/completions";

/// A running system under test.
pub struct Sut {
    /// Which system.
    pub kind: SystemKind,
    /// Its version.
    pub version: String,
    /// The tree measured (none for direct-to-mock).
    pub tree: Option<Tree>,
    /// The key sent as Bearer.
    pub key: Option<String>,
    /// The model of the retry scenario (Pylon only).
    pub retry_model: Option<String>,
    /// Prometheus endpoint (Pylon only).
    pub metrics_url: Option<String>,
    /// Notes about how it was set up.
    pub notes: Vec<String>,
    /// Chat URL per mock.
    urls: Vec<(Upstream, String)>,
    // Dropped in declaration order: processes first, then what they used (databases).
    processes: Vec<Spawned>,
    resources: Vec<Box<dyn Send>>,
}

impl Sut {
    /// A system with per-mock URLs.
    pub fn new(kind: SystemKind, version: String, urls: Vec<(Upstream, String)>) -> Self {
        Self {
            kind,
            version,
            tree: None,
            key: None,
            retry_model: None,
            metrics_url: None,
            notes: Vec::new(),
            urls,
            processes: Vec::new(),
            resources: Vec::new(),
        }
    }

    /// The load client straight to the mocks.
    pub fn direct(mocks: &Mocks) -> Self {
        let urls = Upstream::ALL
            .iter()
            .map(|u| (*u, format!("http://{}{CHAT_PATH}", mocks.addr(*u))))
            .collect();
        Self::new(SystemKind::Direct, "mock-upstream".into(), urls)
    }

    /// Every request shape through one base URL, routed by model.
    pub fn one_base(kind: SystemKind, version: String, base_url: &str) -> Self {
        let urls = Upstream::ALL
            .iter()
            .map(|u| (*u, format!("{base_url}{CHAT_PATH}")))
            .collect();
        Self::new(kind, version, urls)
    }

    /// Adds a process owned by this system (the first one added is measured).
    pub fn own(&mut self, process: Spawned) {
        if self.tree.is_none() {
            self.tree = Some(Tree { root: process.pid });
        }
        self.processes.push(process);
    }

    /// Adds a resource released after the processes stop (a database, say).
    pub fn hold(&mut self, resource: Box<dyn Send>) {
        self.resources.push(resource);
    }

    /// Fails when one of its processes has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        self.processes
            .iter_mut()
            .try_for_each(|p| p.check_running())
    }

    /// The chat URL that reaches `upstream`.
    pub fn url(&self, upstream: Upstream) -> String {
        self.urls
            .iter()
            .find(|(u, _)| *u == upstream)
            .map(|(_, url)| url.clone())
            .unwrap_or_default()
    }

    /// Stops the processes (last started first), then releases the resources.
    pub async fn stop(mut self) {
        while let Some(process) = self.processes.pop() {
            process.stop().await;
        }
        self.resources.clear();
    }
}
