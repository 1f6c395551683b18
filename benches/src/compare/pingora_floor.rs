//! Pingora's own floor: `pingora-floor`, a bare Pingora reverse proxy run the way pylon-proxy
//! runs Pingora (the same allocator, no downstream modules), with one listener per mock as
//! nginx has, one thread per listener, in one process pinned to the system-under-test core. What
//! it costs is what Pingora itself costs; what Pylon costs beyond it is Pylon's.

use super::procs::{Launch, SUT_CORE, Spawned, free_port, wait_listening};
use super::results::SystemKind;
use super::sut::{CHAT_PATH, Sut};
use super::upstreams::{Mocks, Upstream};
use std::path::Path;
use std::time::Duration;

/// The binary, beside `pylon-compare`.
pub const BINARY: &str = "pingora-floor";
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// `pingora-proxy 0.9.1 (pingora-floor)`, the version from the workspace's Cargo.lock.
pub fn version(workspace: &Path) -> String {
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock")).unwrap_or_default();
    match locked_version(&lock, "pingora-proxy") {
        Some(v) => format!("pingora-proxy {v} ({BINARY})"),
        None => format!("pingora-proxy ({BINARY}; version not found in Cargo.lock)"),
    }
}

/// The version Cargo.lock gives the package `name`.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line == wanted {
            return lines
                .next()?
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string);
        }
    }
    None
}

/// Starts `pingora-floor` with one `--route` per mock, one thread, on the system-under-test
/// core.
pub async fn start(
    bin_dir: &Path,
    run_dir: &Path,
    mocks: &Mocks,
    version: &str,
) -> anyhow::Result<Sut> {
    let mut args = Vec::new();
    let mut urls = Vec::new();
    let mut listens = Vec::new();
    for upstream in Upstream::ALL {
        let listen = format!("127.0.0.1:{}", free_port()?);
        args.push("--route".to_string());
        args.push(format!("{listen}={}", mocks.addr(upstream)));
        urls.push((upstream, format!("http://{listen}{CHAT_PATH}")));
        listens.push(listen);
    }
    args.extend(["--threads".to_string(), "1".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let launch = Launch::new(BINARY, bin_dir.join(BINARY), &args, SUT_CORE);
    let mut process = Spawned::start(&launch, run_dir)?;
    for listen in &listens {
        wait_listening(&mut process, listen, START_TIMEOUT).await?;
    }
    let mut sut = Sut::new(SystemKind::PingoraFloor, version.to_string(), urls);
    sut.own(process);
    Ok(sut)
}

#[cfg(test)]
mod tests {
    use super::locked_version;

    #[test]
    fn the_version_is_read_from_the_lock_file_entry_of_the_package() {
        let lock = "[[package]]\nname = \"pingora-core\"\nversion = \"0.8.0\"\n\n\
                    [[package]]\nname = \"pingora-proxy\"\nversion = \"0.9.1\"\nsource = \"x\"\n";
        assert_eq!(
            locked_version(lock, "pingora-proxy").as_deref(),
            Some("0.9.1")
        );
        assert_eq!(locked_version(lock, "pingora"), None);
        assert_eq!(locked_version("", "pingora-proxy"), None);
    }
}
