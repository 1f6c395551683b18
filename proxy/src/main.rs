//! pylon-proxy: Pylon's public edge on Pingora. It answers `/health`, relays `/v1` and
//! `/v1beta`, forwards every other path to the control plane, and serves Prometheus metrics.

use pingora::listeners::ListenerConfig;
use pingora::protocols::l4::stream::L4BufferSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pylon_proxy::{edge, metrics, service, shutdown, state, supervisor};
use pylon_shared::config::Config;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Rust's allocations go to mimalloc (see the workspace Cargo.toml); C libraries (SQLite) keep
/// glibc's, which `pylon_shared::memory` tunes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    pylon_shared::memory::return_large_allocations();
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    pylon_shared::telemetry::init(&config);
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("pylon-proxy failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let config = Arc::new(config);
    if config.control_plane.spawn {
        supervisor::spawn_control_plane(&config)?;
    }

    // Database and cache clients live on this runtime for the life of the process; Pingora's
    // own runtimes only ever send them requests.
    let state_runtime = state::StateRuntime::start(Arc::clone(&config))?;
    let proxy_state = state_runtime.state();

    let conf = ServerConf {
        threads: match config.server.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        work_stealing: config.server.work_stealing,
        // SIGTERM: `shutdown::Signals` exits once the streams have finished and the charges
        // are written; Pingora's own grace period only bounds it.
        grace_period_seconds: Some(
            config.billing.shutdown_grace_secs + shutdown::DRAIN_LIMIT.as_secs() + 1,
        ),
        graceful_shutdown_timeout_seconds: Some(5),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut proxy = pingora::services::listening::Service::new(
        "pylon-proxy".to_string(),
        edge::Guarded::new(
            pingora::proxy::http_proxy(
                &server.configuration,
                service::PylonProxy::new(Arc::clone(&proxy_state)),
            ),
            Arc::clone(&proxy_state.edge),
        ),
    );
    proxy.add_listener(
        ListenerConfig::tcp(config.server.listen.as_str())
            .l4_buffer(L4BufferSettings::default().read(config.server.read_buffer_bytes)),
    );
    server.add_service(proxy);

    if !config.server.metrics_listen.is_empty() {
        let mut metrics_service = pingora::services::listening::Service::new(
            "metrics".to_string(),
            metrics::MetricsApp::new(Arc::clone(&proxy_state.metrics)),
        );
        metrics_service.add_tcp(&config.server.metrics_listen);
        server.add_service(metrics_service);
    }

    announce(&config);
    let grace = Duration::from_secs(config.billing.shutdown_grace_secs);
    server.run(RunArgs {
        shutdown_signal: Box::new(shutdown::Signals::new(
            Arc::clone(&proxy_state),
            state_runtime.handle(),
            grace,
        )),
    });
    // Pingora's runtimes are down (SIGINT, or a SIGTERM drain that outlived its bounds): nothing
    // is in flight any more; write what finished.
    state_runtime.block_on(shutdown::drain(&proxy_state, Duration::ZERO));
    Ok(())
}

/// Tells the operator where to go.
fn announce(config: &Config) {
    let url = if config.server.public_url.is_empty() {
        let port = config
            .server
            .listen
            .rsplit(':')
            .next()
            .unwrap_or("3000")
            .to_string();
        format!("http://localhost:{port}")
    } else {
        config.server.public_url.clone()
    };
    tracing::info!(
        "Pylon is listening on {url} (database {}, cache {}). First run? Create the root account: \
         curl -X POST {url}/api/setup -H 'Content-Type: application/json' -d \
         '{{\"username\":\"root\",\"password\":\"<at least 8 characters>\",\"confirmPassword\":\"<same>\"}}' \
         then log in with POST {url}/api/user/login. Setup state: GET {url}/api/setup",
        if config.is_embedded() {
            "SQLite"
        } else {
            "MySQL"
        },
        if config.uses_redis() {
            "Redis"
        } else {
            "in-process"
        },
    );
}
