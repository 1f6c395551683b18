//! The mock upstreams every system under test forwards to: one `mock-upstream` process per
//! answer shape (small JSON, paced streams, long held streams), each on the client core with
//! one thread, so that a request's shape never depends on headers a proxy might drop.

use super::options::{CHUNK_INTERVAL_MS, Plan, TTFT_MS};
use super::procs::{Launch, Spawned, UPSTREAM_CORE, free_port, wait_listening};
use std::path::Path;
use std::time::Duration;

/// Which mock a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Small JSON answers (~1 KB), also used for the 1 MiB request bodies and retries.
    Json,
    /// Paced streams: 200 ms TTFT, then a chunk every 20 ms.
    Stream,
    /// Long, slow streams held open for memory per stream.
    Long,
}

impl Upstream {
    /// Every mock.
    pub const ALL: [Upstream; 3] = [Upstream::Json, Upstream::Stream, Upstream::Long];

    /// The model name routed to this mock (LiteLLM and Pylon route by model).
    pub fn model(self) -> &'static str {
        match self {
            Upstream::Json => "bench-json",
            Upstream::Stream => "bench-stream",
            Upstream::Long => "bench-long",
        }
    }
}

/// Pads the small JSON answer's content so that the whole body is about 1 KB.
const JSON_CONTENT_BYTES: u32 = 700;

/// One running mock.
pub struct Mock {
    /// Which shape it serves.
    pub upstream: Upstream,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    process: Spawned,
}

/// The three mocks.
pub struct Mocks {
    mocks: Vec<Mock>,
}

impl Mocks {
    /// Starts the three mocks for `plan`.
    pub async fn start(bin_dir: &Path, run_dir: &Path, plan: &Plan) -> anyhow::Result<Self> {
        let mut mocks = Vec::new();
        for upstream in Upstream::ALL {
            let port = free_port()?;
            let addr = format!("127.0.0.1:{port}");
            let shape: Vec<String> = match upstream {
                Upstream::Json => vec!["--response-bytes".into(), JSON_CONTENT_BYTES.to_string()],
                Upstream::Stream => vec![
                    "--ttft-ms".into(),
                    TTFT_MS.to_string(),
                    "--chunks".into(),
                    plan.stream_chunks.to_string(),
                    "--chunk-interval-ms".into(),
                    CHUNK_INTERVAL_MS.to_string(),
                ],
                Upstream::Long => vec![
                    "--ttft-ms".into(),
                    TTFT_MS.to_string(),
                    "--chunks".into(),
                    plan.long_chunks.to_string(),
                    "--chunk-interval-ms".into(),
                    plan.long_interval_ms.to_string(),
                ],
            };
            let mut args = vec!["--listen".to_string(), addr.clone()];
            args.extend(["--threads".into(), "1".into()]);
            args.extend(shape);
            let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let name = format!("mock-{}", upstream.model());
            let launch = Launch::new(
                &name,
                bin_dir.join("mock-upstream"),
                &arg_refs,
                UPSTREAM_CORE,
            );
            let mut process = Spawned::start(&launch, run_dir)?;
            wait_listening(&mut process, &addr, Duration::from_secs(10)).await?;
            mocks.push(Mock {
                upstream,
                addr,
                process,
            });
        }
        Ok(Self { mocks })
    }

    /// `127.0.0.1:PORT` of the mock serving `upstream`.
    pub fn addr(&self, upstream: Upstream) -> &str {
        self.mocks
            .iter()
            .find(|m| m.upstream == upstream)
            .map_or("127.0.0.1:9", |m| m.addr.as_str())
    }

    /// Stops every mock.
    pub async fn stop(self) {
        for mock in self.mocks {
            mock.process.stop().await;
        }
    }
}
