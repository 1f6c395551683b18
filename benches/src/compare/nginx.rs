//! nginx, the floor: installed from the distribution when missing (only when running as root,
//! and said so), configured from `benches/config/nginx.conf` with one listener per mock, one
//! worker pinned to the system-under-test core.

use super::procs::{Launch, SUT_CORE, Spawned, output, wait_listening};
use super::results::SystemKind;
use super::sut::{CHAT_PATH, Sut};
use super::upstreams::{Mocks, Upstream};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAIN_TEMPLATE: &str = include_str!("../../config/nginx.conf");
const SERVER_TEMPLATE: &str = include_str!("../../config/nginx-server.conf");

/// Where distributions put nginx.
const CANDIDATES: [&str; 4] = [
    "/usr/sbin/nginx",
    "/usr/bin/nginx",
    "/usr/local/sbin/nginx",
    "/usr/local/nginx/sbin/nginx",
];

/// The nginx executable, if installed.
fn locate() -> Option<PathBuf> {
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nginx")).collect())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(CANDIDATES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Finds nginx, installing `nginx-light` with apt-get when it is missing and this runs as
/// root. Returns the executable and a note when something was installed.
pub async fn ensure_installed() -> anyhow::Result<(PathBuf, Option<String>)> {
    if let Some(path) = locate() {
        return Ok((path, None));
    }
    let uid = output("id", &["-u"]).await.unwrap_or_default();
    if uid.trim() != "0" {
        bail!("nginx is not installed (install nginx-light, or run as root to let the runner)");
    }
    eprintln!("pylon-compare: nginx is missing; installing nginx-light with apt-get");
    let install = || output("apt-get", &["install", "-y", "-q", "nginx-light"]);
    if install().await.is_err() {
        output("apt-get", &["update", "-q"]).await?;
        install().await?;
    }
    let path = locate().context("nginx still missing after apt-get install nginx-light")?;
    Ok((
        path,
        Some("nginx-light was installed with apt-get by this run".into()),
    ))
}

/// `nginx/1.22.1`.
async fn version(nginx: &Path) -> String {
    let text = output(&nginx.display().to_string(), &["-v"])
        .await
        .unwrap_or_default();
    text.trim()
        .strip_prefix("nginx version: ")
        .unwrap_or(text.trim())
        .to_string()
}

/// Writes the configuration and starts nginx on the system-under-test core.
pub async fn start(nginx: &Path, run_dir: &Path, mocks: &Mocks) -> anyhow::Result<Sut> {
    let dir = run_dir.join("nginx");
    std::fs::create_dir_all(&dir)?;
    let mut servers = String::new();
    let mut urls = Vec::new();
    let mut listens = Vec::new();
    for upstream in Upstream::ALL {
        let listen = format!("127.0.0.1:{}", super::procs::free_port()?);
        servers.push_str(
            &SERVER_TEMPLATE
                .replace("{{NAME}}", &upstream.model().replace('-', "_"))
                .replace("{{UPSTREAM}}", mocks.addr(upstream))
                .replace("{{LISTEN}}", &listen),
        );
        urls.push((upstream, format!("http://{listen}{CHAT_PATH}")));
        listens.push(listen);
    }
    let dir_text = dir.display().to_string();
    let config = MAIN_TEMPLATE
        .replace("{{DIR}}", &dir_text)
        .replace("{{SERVERS}}", &servers);
    let config_path = dir.join("nginx.conf");
    std::fs::write(&config_path, config)?;
    let error_log = dir.join("nginx-error.log").display().to_string();
    let config_text = config_path.display().to_string();
    let launch = Launch::new(
        "nginx",
        nginx,
        &["-p", &dir_text, "-e", &error_log, "-c", &config_text],
        SUT_CORE,
    );
    let mut process = Spawned::start(&launch, run_dir)?;
    for listen in &listens {
        wait_listening(&mut process, listen, Duration::from_secs(10)).await?;
    }
    let mut sut = Sut::new(SystemKind::Nginx, version(nginx).await, urls);
    sut.own(process);
    Ok(sut)
}
