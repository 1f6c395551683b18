//! A client written with Anthropic's official Python SDK works against Pylon unchanged: runs
//! tests/sdk/anthropic_client.py (messages, streaming, tools, count_tokens, typed errors)
//! against a Pylon with an Anthropic channel (passed on), an OpenAI-compatible one and a Gemini
//! one (converted), then checks that each relayed call reached its upstream once and was logged
//! and billed on the upstream's usage, on SQLite and on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::Duration;

/// The SDK version the script is tested with; `.ci/run` installs exactly this.
const ANTHROPIC_PIN: &str = "anthropic==2.16.0";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

const CLAUDE: &str = "claude-sdk";
const VIA_OPENAI: &str = "claude-sdk-openai";
const VIA_GEMINI: &str = "claude-sdk-gemini";
const MODELS: [&str; 3] = [CLAUDE, VIA_OPENAI, VIA_GEMINI];

/// Fails (never skips) when python3 or the pinned SDK is missing, saying how to install it.
async fn require_sdk() -> String {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import anthropic; print(anthropic.__version__)"])
        .output()
        .await;
    match probe {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "the anthropic Python package is missing: run `pip install {ANTHROPIC_PIN}`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => panic!(
            "python3 could not be started ({error}): install Python 3 and \
             `pip install {ANTHROPIC_PIN}`"
        ),
    }
}

async fn run_script(pylon: &Pylon, key: &str) -> Value {
    let child = tokio::process::Command::new("python3")
        .arg(format!(
            "{}/sdk/anthropic_client.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--base-url", &pylon.base_url, "--api-key", key])
        .args(["--models", &MODELS.join(",")])
        .args(["--count-models", CLAUDE])
        // Keep the SDK from reading a developer's own settings.
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_AUTH_TOKEN")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, child)
        .await
        .unwrap_or_else(|_| panic!("the SDK script ran longer than {SCRIPT_TIMEOUT:?}"))
        .expect("python3 starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Anthropic SDK script failed ({}):\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the script's summary is not JSON ({e}): {stdout}"))
}

async fn the_anthropic_sdk_works_unchanged(backend: Backend) {
    let sdk_version = require_sdk().await;
    let config = || MockConfig {
        chunks: 3,
        ..MockConfig::default()
    };
    let claude = MockUpstream::start(config()).await.expect("mock");
    let openai = MockUpstream::start(config()).await.expect("mock");
    let gemini = MockUpstream::start(config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let ratios: serde_json::Map<String, Value> =
        MODELS.iter().map(|m| (m.to_string(), json!(1.0))).collect();
    set_option(&console, "ModelRatio", &Value::Object(ratios).to_string()).await;
    for (kind, mock, model) in [
        (14, &claude, CLAUDE),
        (1, &openai, VIA_OPENAI),
        (24, &gemini, VIA_GEMINI),
    ] {
        create_channel(
            &console,
            json!({"type": kind, "name": model, "key": "upstream-key", "base_url": mock.base_url(),
                   "models": model, "group": "default"}),
        )
        .await;
    }
    let (_, key) = create_key(&console, "anthropic-sdk", 100_000_000, false).await;
    for model in MODELS {
        wait_until_routable(&pylon, &key, model).await;
    }

    let summary = run_script(&pylon, &key).await;
    eprintln!("anthropic {sdk_version}: {summary}");
    assert_eq!(
        summary["errors"],
        json!({"bad_key": 401, "unknown_model": 404}),
        "{summary}"
    );
    let relayed = summary["relayed"].as_array().expect("relayed").len();
    assert_eq!(
        relayed, 10,
        "three steps per model and one count: {summary}"
    );
    // Every relayed call reached its own upstream once, in that upstream's format.
    assert_eq!(claude.request_count(), 4);
    assert!(claude.requests().iter().all(
        |r| r.path.starts_with("/v1/messages") && r.header("x-api-key") == Some("upstream-key")
    ));
    assert_eq!(openai.request_count(), 3);
    assert!(
        openai
            .requests()
            .iter()
            .all(|r| r.path == "/v1/chat/completions")
    );
    let tool_call = openai.requests()[2].json.clone().expect("JSON");
    assert_eq!(
        tool_call["messages"][1]["tool_calls"][0]["function"]["name"], "get_weather",
        "{tool_call}"
    );
    assert_eq!(tool_call["messages"][2]["role"], "tool", "{tool_call}");
    assert_eq!(tool_call["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(gemini.request_count(), 3);
    assert!(
        gemini
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/v1beta/models/claude-sdk-gemini:"))
    );

    // One log row per relayed call, billed on the upstream's usage (counting is free).
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 10).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND is_estimated <> 0 AND quota > 0"
        )
        .await,
        0,
        "streams read by the SDK were billed on the upstream's usage"
    );
    let quota = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    assert!(quota > 0, "the relayed calls cost nothing");
    eventually_equals(&db, "SELECT used_quota FROM users WHERE id = 1", quota).await;
    db.close().await;
}
on_every_backend!(the_anthropic_sdk_works_unchanged);
