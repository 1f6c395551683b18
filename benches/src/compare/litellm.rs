//! LiteLLM proxy, the Python gateway Pylon is compared with: pinned `litellm[proxy]==1.109.1`
//! installed into a virtualenv under the system temp dir when missing (never into the repo),
//! one worker, no database, callbacks off, master-key auth, pinned to the system-under-test
//! core.

use super::procs::{Launch, SUT_CORE, Spawned, free_port, output, wait_listening};
use super::results::SystemKind;
use super::sut::{CHAT_PATH, Sut};
use super::upstreams::{Mocks, Upstream};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The pinned release.
pub const VERSION: &str = "1.109.1";
/// The key LiteLLM is started with (auth on, as Pylon's is).
const MASTER_KEY: &str = "sk-bench-litellm";
/// LiteLLM imports a lot of Python before it listens.
const START_TIMEOUT: Duration = Duration::from_secs(180);

const CONFIG_TEMPLATE: &str = include_str!("../../config/litellm.yaml");
const LOG_CONFIG: &str = include_str!("../../config/litellm-log.json");
const OVERRIDES: &str = include_str!("../../config/litellm-overrides.txt");
/// Installed beside LiteLLM, at the versions its own `proxy-runtime` extra pins: without
/// `opentelemetry-sdk` the proxy retries a failing import on every request (a quarter of its
/// CPU time in a profile), which would make it look slower than it is when deployed.
const EXTRA_PACKAGES: [&str; 2] = ["opentelemetry-api==1.45.1", "opentelemetry-sdk==1.45.1"];
/// A file in the virtualenv saying how it was installed.
const INSTALL_NOTE: &str = "pylon-bench-install-note.txt";

/// The virtualenv the pinned LiteLLM lives in.
pub fn venv_dir() -> PathBuf {
    std::env::temp_dir().join(format!("pylon-bench-litellm-{VERSION}"))
}

/// Makes sure the pinned LiteLLM is installed; returns the virtualenv and how it was installed.
pub async fn ensure_installed() -> anyhow::Result<(PathBuf, String)> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let installed = output(
        &python.display().to_string(),
        &[
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
    )
    .await
    .map(|v| v.trim() == VERSION)
    .unwrap_or(false);
    let extras_present = output(
        &python.display().to_string(),
        &["-c", "import opentelemetry.sdk"],
    )
    .await
    .is_ok();
    let note_path = venv.join(INSTALL_NOTE);
    if installed && extras_present && venv.join("bin/litellm").is_file() && note_path.is_file() {
        let note = std::fs::read_to_string(&note_path).unwrap_or_default();
        return Ok((venv, note.trim().to_string()));
    }
    if installed && venv.join("bin/litellm").is_file() {
        let pip = venv.join("bin/pip").display().to_string();
        let mut args = vec!["install", "-q"];
        args.extend(EXTRA_PACKAGES);
        output(&pip, &args).await?;
        let note = format!(
            "litellm[proxy]=={VERSION} found in {}, plus {}",
            venv.display(),
            EXTRA_PACKAGES.join(", ")
        );
        std::fs::write(&note_path, &note)?;
        return Ok((venv, note));
    }
    eprintln!(
        "pylon-compare: installing litellm[proxy]=={VERSION} into {} (once; takes a few minutes)",
        venv.display()
    );
    let venv_text = venv.display().to_string();
    output("python3", &["-m", "venv", &venv_text]).await?;
    let pip = venv.join("bin/pip").display().to_string();
    let spec = format!("litellm[proxy]=={VERSION}");
    let note = match output(&pip, &["install", "-q", &spec]).await {
        Ok(_) => format!("installed with pip install '{spec}'"),
        Err(plain) => {
            eprintln!(
                "pylon-compare: plain pip install failed ({plain:#}); retrying with overrides"
            );
            let overrides = venv.join("overrides.txt");
            std::fs::write(&overrides, OVERRIDES)?;
            output(&pip, &["install", "-q", "uv"]).await?;
            let uv = venv.join("bin/uv").display().to_string();
            let python_text = python.display().to_string();
            let overrides_text = overrides.display().to_string();
            output(
                &uv,
                &[
                    "pip",
                    "install",
                    "--python",
                    &python_text,
                    "--override",
                    &overrides_text,
                    &spec,
                ],
            )
            .await
            .context("install LiteLLM with overrides")?;
            let pins: Vec<&str> = OVERRIDES
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .collect();
            format!(
                "installed with uv pip install '{spec}' overriding {} (the package index \
                 reached here lacks the exact pins)",
                pins.join(", ")
            )
        }
    };
    let mut args = vec!["install", "-q"];
    args.extend(EXTRA_PACKAGES);
    output(&pip, &args).await?;
    let note = format!("{note}, plus {}", EXTRA_PACKAGES.join(", "));
    std::fs::write(&note_path, &note)?;
    Ok((venv, note))
}

/// Writes the configuration and starts the LiteLLM proxy on the system-under-test core.
pub async fn start(venv: &Path, run_dir: &Path, mocks: &Mocks, note: &str) -> anyhow::Result<Sut> {
    let dir = run_dir.join("litellm");
    std::fs::create_dir_all(&dir)?;
    let config = CONFIG_TEMPLATE
        .replace("{{JSON}}", mocks.addr(Upstream::Json))
        .replace("{{STREAM}}", mocks.addr(Upstream::Stream))
        .replace("{{LONG}}", mocks.addr(Upstream::Long))
        .replace("{{MASTER_KEY}}", MASTER_KEY);
    let config_path = dir.join("litellm.yaml");
    std::fs::write(&config_path, config)?;
    let log_config = dir.join("log.json");
    std::fs::write(&log_config, LOG_CONFIG)?;
    let port = free_port()?;
    let port_text = port.to_string();
    let config_text = config_path.display().to_string();
    let log_text = log_config.display().to_string();
    let launch = Launch::new(
        "litellm",
        venv.join("bin/litellm"),
        &[
            "--config",
            &config_text,
            "--host",
            "127.0.0.1",
            "--port",
            &port_text,
            "--num_workers",
            "1",
            "--log_config",
            &log_text,
        ],
        SUT_CORE,
    )
    .env("LITELLM_LOG", "ERROR")
    .env("LITELLM_TELEMETRY", "False")
    // No network here: use the bundled price map instead of fetching it (and retrying).
    .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    .env("PYTHONUNBUFFERED", "1")
    .cwd(&dir);
    let mut process = Spawned::start(&launch, run_dir)?;
    let addr = format!("127.0.0.1:{port}");
    wait_listening(&mut process, &addr, START_TIMEOUT).await?;
    let base = format!("http://{addr}");
    probe(&base).await?;
    let mut sut = Sut::one_base(SystemKind::LiteLlm, format!("litellm {VERSION}"), &base);
    sut.key = Some(MASTER_KEY.into());
    if !note.is_empty() {
        sut.notes.push(format!("LiteLLM {note}"));
    }
    sut.own(process);
    Ok(sut)
}

/// One chat completion through LiteLLM, to fail early with its answer if it is misconfigured.
async fn probe(base: &str) -> anyhow::Result<()> {
    let answer = reqwest::Client::new()
        .post(format!("{base}{CHAT_PATH}"))
        .bearer_auth(MASTER_KEY)
        .json(&serde_json::json!({
            "model": Upstream::Json.model(),
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        bail!(
            "LiteLLM answered {status} to a probe: {}",
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(())
}
