//! A mock LLM upstream speaking the OpenAI, Anthropic and Gemini wire formats, with
//! deterministic usage, paced streams and injected failures (see the crate README for the
//! knobs). Tests start one on port 0 per test; benchmarks run it as the `mock-upstream` binary.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use pylon_benches::mock::{MockConfig, MockUpstream};
//! let mock = MockUpstream::start(MockConfig { chunks: 3, ..MockConfig::default() }).await?;
//! let url = format!("{}/v1/chat/completions", mock.base_url());
//! // ... send requests to `url` ...
//! assert_eq!(mock.request_count(), 0);
//! mock.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod anthropic;
mod config;
mod errors;
mod gemini;
mod handler;
mod http;
mod knobs;
mod multipart;
mod openai;
mod record;
mod rng;
mod server;
mod sink;
mod sse;
mod text;

pub use config::{DEFAULT_MAX_BODY_BYTES, MockConfig};
pub use gemini::IMAGE_TOKENS as GEMINI_IMAGE_TOKENS;
pub use multipart::FormField;
pub use record::RecordedRequest;

use anyhow::Context as _;
use server::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running mock upstream. Dropping it stops the server too; [`MockUpstream::shutdown`] also
/// waits until the listener is closed.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Starts a mock on `127.0.0.1` with a free port.
    pub async fn start(config: MockConfig) -> anyhow::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a mock listening on `addr`.
    pub async fn bind(addr: SocketAddr, config: MockConfig) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the mock upstream to {addr}"))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (shutdown, stopped) = watch::channel(false);
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(Self {
            addr,
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// The address the mock listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far (while `record` is on), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.records()
    }

    /// How many requests have been received, recorded or not.
    pub fn request_count(&self) -> usize {
        self.shared.count()
    }

    /// Forgets the recorded requests (the count keeps running).
    pub fn clear_requests(&self) {
        self.shared.clear_records();
    }

    /// The current configuration.
    pub fn config(&self) -> MockConfig {
        self.shared.config().as_ref().clone()
    }

    /// Changes the behaviour for every request that arrives from now on.
    pub fn set_config(&self, config: MockConfig) {
        self.shared.set_config(config);
    }

    /// Stops accepting, drops open connections and waits until the listener is closed.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            // The accept loop never panics; a join error would only mean it was cancelled.
            let _ = task.await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
