//! OpenAI's official Python SDK drives Pylon's video task relay unchanged
//! (`client.videos.create / retrieve / download_content`, tests/sdk/openai_videos.py): the task
//! is created with Pylon's id, polled to completion, its video downloaded whole, and an
//! unknown id is the SDK's `NotFoundError`; charged once, on SQLite and on MySQL + Redis.

use crate::video_tasks::{Scene, scene};
use pylon_tests::{Backend, on_every_backend};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long the script may take (a few calls to a local mock, the poller every 100 ms).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

async fn run_script(scene: &Scene) -> Value {
    let script = format!("{}/sdk/openai_videos.py", env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--base-url", &format!("{}/v1", scene.pylon.base_url)])
        .args(["--api-key", &scene.key])
        .args(["--model", crate::video_tasks::MODEL])
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("the SDK script ran longer than {SCRIPT_TIMEOUT:?}"))
        .expect("python3 starts (install Python 3 and `pip install openai==3.54.0`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the OpenAI SDK script failed ({}):\n{}\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

async fn the_openai_sdk_makes_videos_through_pylon(backend: Backend) {
    let scene = scene(backend).await;
    let before = crate::video_tasks::balances(&scene).await;
    let summary = run_script(&scene).await;
    let id = summary["id"].as_str().expect("id");
    assert!(id.starts_with("task_"), "{summary}");
    assert_eq!(summary["created_status"], "queued", "{summary}");
    assert_eq!(summary["status"], "completed", "{summary}");
    assert_eq!(summary["progress"], 100, "{summary}");
    assert_eq!(summary["model"], crate::video_tasks::MODEL, "{summary}");
    let content = scene.mock.content();
    assert_eq!(summary["bytes"], content.len(), "{summary}");
    let digest: String = Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(summary["sha256"], digest.as_str());
    assert_eq!(summary["unknown"], "NotFoundError 404", "{summary}");
    // The SDK sends a form: the upstream got it, and the task was charged once (4 seconds).
    let sent = scene.mock.created();
    assert_eq!(sent.len(), 1);
    let charge = 4 * crate::video_tasks::PER_SECOND;
    crate::video_tasks::eventually_balances(&scene, (before.0 - charge, before.1 - charge)).await;
}

on_every_backend!(the_openai_sdk_makes_videos_through_pylon);
