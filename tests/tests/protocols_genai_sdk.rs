//! A client written with Google's official `google-genai` Python SDK works against Pylon
//! unchanged: runs tests/sdk/genai_client.py (generate_content, streaming, embeddings,
//! count_tokens, typed errors) against a Pylon with a Gemini channel (passed on), an
//! OpenAI-compatible one and an Anthropic one (converted), then checks that each relayed call
//! reached its upstream once and was logged and billed on the upstream's usage, on SQLite and
//! on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::Duration;

/// The SDK version the script is tested with; `.ci/run` installs exactly this.
const GENAI_PIN: &str = "google-genai==3.6.1";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

const GEMINI: &str = "gemini-sdk";
const VIA_OPENAI: &str = "gemini-sdk-openai";
const VIA_ANTHROPIC: &str = "gemini-sdk-claude";
/// Not `gemini-…-embedding`: the SDK folds several texts into one content for those.
const EMBEDDING: &str = "text-embedding-sdk";
const MODELS: [&str; 3] = [GEMINI, VIA_OPENAI, VIA_ANTHROPIC];

/// Fails (never skips) when python3 or the pinned SDK is missing, saying how to install it.
async fn require_sdk() -> String {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "from google import genai; print(genai.__version__)"])
        .output()
        .await;
    match probe {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "the google-genai Python package is missing: run `pip install {GENAI_PIN}`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => panic!(
            "python3 could not be started ({error}): install Python 3 and \
             `pip install {GENAI_PIN}`"
        ),
    }
}

async fn run_script(pylon: &Pylon, key: &str) -> Value {
    let child = tokio::process::Command::new("python3")
        .arg(format!(
            "{}/sdk/genai_client.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(["--base-url", &pylon.base_url, "--api-key", key])
        .args(["--models", &MODELS.join(",")])
        .args(["--count-models", GEMINI])
        .args(["--embedding-model", EMBEDDING])
        // Keep the SDK from reading a developer's own settings.
        .env_remove("GOOGLE_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_GENAI_USE_VERTEXAI")
        .env_remove("GOOGLE_CLOUD_PROJECT")
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
        "the google-genai SDK script failed ({}):\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the script's summary is not JSON ({e}): {stdout}"))
}

async fn the_genai_sdk_works_unchanged(backend: Backend) {
    let sdk_version = require_sdk().await;
    let config = || MockConfig {
        chunks: 3,
        ..MockConfig::default()
    };
    let gemini = MockUpstream::start(config()).await.expect("mock");
    let openai = MockUpstream::start(config()).await.expect("mock");
    let claude = MockUpstream::start(config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let ratios: serde_json::Map<String, Value> = MODELS
        .iter()
        .chain([&EMBEDDING])
        .map(|m| (m.to_string(), json!(1.0)))
        .collect();
    set_option(&console, "ModelRatio", &Value::Object(ratios).to_string()).await;
    for (kind, mock, models) in [
        (24, &gemini, GEMINI.to_string()),
        (1, &openai, format!("{VIA_OPENAI},{EMBEDDING}")),
        (14, &claude, VIA_ANTHROPIC.to_string()),
    ] {
        create_channel(
            &console,
            json!({"type": kind, "name": models, "key": "upstream-key", "base_url": mock.base_url(),
                   "models": models, "group": "default"}),
        )
        .await;
    }
    let (_, key) = create_key(&console, "genai-sdk", 100_000_000, false).await;
    for model in MODELS.iter().chain([&EMBEDDING]) {
        wait_until_routable(&pylon, &key, model).await;
    }

    let summary = run_script(&pylon, &key).await;
    eprintln!("google-genai {sdk_version}: {summary}");
    assert_eq!(
        summary["errors"],
        json!({"bad_key": 401, "unknown_model": 404}),
        "{summary}"
    );
    let relayed = summary["relayed"].as_array().expect("relayed").len();
    assert_eq!(
        relayed, 8,
        "two steps per model, an embedding and a count: {summary}"
    );
    // Every relayed call reached its own upstream once, in that upstream's format.
    assert_eq!(gemini.request_count(), 3);
    assert!(gemini.requests().iter().all(|r| {
        r.path.starts_with("/v1beta/models/gemini-sdk:")
            && r.header("x-goog-api-key") == Some("upstream-key")
    }));
    let paths: Vec<String> = openai.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/embeddings"
        ]
    );
    let embedded = openai.requests()[2].json.clone().expect("JSON");
    assert_eq!(embedded["input"], json!(["one", "two"]), "{embedded}");
    assert_eq!(claude.request_count(), 2);
    assert!(claude.requests().iter().all(|r| r.path == "/v1/messages"));

    // One log row per relayed call (counting is free), the generations billed on usage.
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 8).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND is_estimated <> 0 \
             AND model_name <> 'text-embedding-sdk' AND quota > 0"
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
on_every_backend!(the_genai_sdk_works_unchanged);
