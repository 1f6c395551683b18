//! pylon-control-plane: the new-api compatible `/api` service. It owns the schema (runs the
//! migrations) and serves on the internal port; pylon-proxy forwards every non-relay path here.
//! Everything but binding and serving is in the library (`lib.rs`).

use anyhow::Context;
use pylon_control_plane::{App, supervision};
use pylon_shared::config::Config;
use std::net::SocketAddr;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    pylon_shared::memory::return_large_allocations();
    let config = match Config::from_process() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::from(2);
        }
    };
    pylon_shared::telemetry::init(&config);
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("pylon-control-plane failed: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Listens with SO_REUSEADDR, so that a restart is not refused while connections of the previous
/// instance linger in TIME-WAIT on this port.
fn bind(listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(1024)
}

async fn run(config: Config) -> anyhow::Result<()> {
    let app = App::start(config).await?;
    let listen: SocketAddr = app.config.control_plane.listen.parse()?;
    let listener = bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(%listen, database = app.db.dialect().name(), cache = app.cache.backend_name(), "control plane ready");
    supervision::exit_with_parent();
    let router = pylon_control_plane::app(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
