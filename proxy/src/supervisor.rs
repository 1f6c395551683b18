//! Runs pylon-control-plane as a child of pylon-proxy (when `control_plane.spawn` is set), so
//! that one command starts the whole system. The child gets the same arguments and
//! environment, is restarted with a back-off if it exits, and exits itself when this process
//! goes away (it watches its parent id).

use anyhow::Context;
use pylon_shared::config::Config;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The variable telling the child which parent to watch.
const SUPERVISED_ENV: &str = "PYLON_SUPERVISED_BY";
const CHILD_BINARY: &str = "pylon-control-plane";

/// Starts the control plane and a thread that keeps it running.
pub fn spawn_control_plane(_config: &Config) -> anyhow::Result<()> {
    let binary = sibling_binary()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut child = start(&binary, &args)?;
    std::thread::Builder::new()
        .name("control-plane-supervisor".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(500);
            loop {
                let started = Instant::now();
                let status = child.wait();
                tracing::warn!(?status, "pylon-control-plane exited; restarting");
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_millis(500);
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
                match start(&binary, &args) {
                    Ok(next) => child = next,
                    Err(error) => {
                        tracing::error!("cannot restart pylon-control-plane: {error:#}");
                        return;
                    }
                }
            }
        })
        .context("cannot start the supervisor thread")?;
    Ok(())
}

fn start(binary: &PathBuf, args: &[String]) -> anyhow::Result<std::process::Child> {
    Command::new(binary)
        .args(args)
        .env(SUPERVISED_ENV, std::process::id().to_string())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

/// pylon-control-plane beside this executable.
fn sibling_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate pylon-proxy's executable")?;
    let path = me
        .parent()
        .map(|dir| dir.join(CHILD_BINARY))
        .context("pylon-proxy's executable has no directory")?;
    anyhow::ensure!(
        path.exists(),
        "{} not found; build it (cargo build --release) or set control_plane.spawn = false",
        path.display()
    );
    Ok(path)
}
