//! Processes the comparison starts: pinned to one core with `taskset`, each in a process group
//! of its own (so a Ctrl-C in the terminal reaches only the runner, which then stops them in
//! order), logged to a file, and always stopped: by [`Spawned::stop`], or on drop, which also
//! covers errors and an interrupted run.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The core the system under test runs on.
pub const SUT_CORE: usize = 0;
/// The core the mock upstreams run on: the system under test's, so that every system pays for
/// the same upstream on the core it measures, and the load client has a core to itself (a
/// client sharing its core with the mock limited the nginx floor, not nginx).
pub const UPSTREAM_CORE: usize = SUT_CORE;
/// The core the load client runs on, alone.
pub const CLIENT_CORE: usize = 1;

/// How long a stopped process group gets to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What to start.
pub struct Launch {
    /// A short name for logs and messages.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Working directory (the run directory when `None`).
    pub cwd: Option<PathBuf>,
    /// The core to pin it to (`taskset -c`), or none.
    pub core: Option<usize>,
}

impl Launch {
    /// A launch of `program` with `args`, pinned to `core`.
    pub fn new(name: &str, program: impl Into<PathBuf>, args: &[&str], core: usize) -> Self {
        Self {
            name: name.to_string(),
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            cwd: None,
            core: Some(core),
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Sets the working directory.
    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// The command, pinned and in a process group of its own, not yet started.
    pub fn command(&self, run_dir: &Path) -> Command {
        let mut command = match self.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        command
            .args(&self.args)
            .envs(self.env.iter().cloned())
            .current_dir(self.cwd.as_deref().unwrap_or(run_dir))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

/// A started process (and its process group), stopped when dropped.
pub struct Spawned {
    /// Its name.
    pub name: String,
    /// Its process id (also its process group id; `taskset` execs the program).
    pub pid: u32,
    /// Where its output goes.
    pub log: PathBuf,
    child: Option<Child>,
}

impl Spawned {
    /// Starts `launch`, with stdout and stderr appended to `<run_dir>/<name>.log`.
    pub fn start(launch: &Launch, run_dir: &Path) -> anyhow::Result<Self> {
        let log = run_dir.join(format!("{}.log", launch.name));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("open {}", log.display()))?;
        let child = launch
            .command(run_dir)
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("start {} ({})", launch.name, launch.program.display()))?;
        let pid = child.id().context("started process has no id")?;
        Ok(Self {
            name: launch.name.clone(),
            pid,
            log,
            child: Some(child),
        })
    }

    /// Fails when the process has already exited (it crashed during start, for example).
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{} exited with {status}; the end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 30)
            );
        }
        Ok(())
    }

    /// Sends `signal` (e.g. `TERM`) to the process alone, not its group.
    pub fn signal(&self, signal: &str) {
        let _ = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Sends `signal` (e.g. `KILL`) to every process of its group.
    pub fn signal_group(&self, signal: &str) {
        signal_group(self.pid, signal);
    }

    /// Waits up to `limit` for the process to exit; its exit status, or `None` if it still
    /// runs.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        tokio::time::timeout(limit, child.wait()).await.ok()?.ok()
    }

    /// Stops the process group: SIGINT (graceful and fast for every program started here),
    /// then SIGKILL after [`STOP_GRACE`] for whatever is left of the group.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(self.pid, "INT");
            let _ = tokio::time::timeout(STOP_GRACE, child.wait()).await;
            signal_group(self.pid, "KILL");
            let _ = child.wait().await;
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The async stop did not run (an error or Ctrl-C unwound the run): stop synchronously.
        if let Some(mut child) = self.child.take() {
            signal_group(self.pid, "INT");
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && !matches!(child.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(50));
            }
            signal_group(self.pid, "KILL");
            let _ = child.start_kill();
        }
    }
}

/// Sends `signal` to every process of the group `pgid` (errors ignored: it may be gone).
fn signal_group(pgid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The last `lines` lines of a log file.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs a short command to completion and returns its stdout followed by its stderr.
pub async fn output(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until `addr` accepts TCP connections, failing after `timeout` or when `process`
/// exits first.
pub async fn wait_listening(
    process: &mut Spawned,
    addr: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        process.check_running()?;
        if Instant::now() > deadline {
            bail!(
                "{} did not listen on {addr} within {timeout:?}; the end of {}:\n{}",
                process.name,
                process.log.display(),
                tail(&process.log, 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
