//! A client written with OpenAI's official Python SDK works against Pylon unchanged: runs
//! tests/sdk/openai_client.py (every relayed endpoint, streams, typed errors) against a Pylon
//! on a mock upstream, then checks that each relayed call was logged and billed exactly once,
//! on SQLite and on MySQL + Redis.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The SDK version the script is tested with; `.ci/run` installs exactly this.
const OPENAI_PIN: &str = "openai==3.54.0";

/// How long the whole script may take (it makes about twenty calls to a local mock).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

const CHAT_MODEL: &str = "gpt-test";
/// Served by a channel without the Responses API (`setting.responses_api = false`).
const CHAT_ONLY_MODEL: &str = "gpt-chat-only";
const EMBEDDING_MODEL: &str = "text-embedding-test";
const IMAGE_MODEL: &str = "dall-e-test";
const MODERATION_MODEL: &str = "moderation-test";
const SPEECH_MODEL: &str = "tts-test";
const TRANSCRIPTION_MODEL: &str = "whisper-test";

const MODELS: &[&str] = &[
    CHAT_MODEL,
    CHAT_ONLY_MODEL,
    EMBEDDING_MODEL,
    IMAGE_MODEL,
    MODERATION_MODEL,
    SPEECH_MODEL,
    TRANSCRIPTION_MODEL,
];

fn script_path() -> String {
    format!("{}/sdk/openai_client.py", env!("CARGO_MANIFEST_DIR"))
}

/// Fails (never skips) when python3 or the pinned SDK is missing, saying how to install it.
async fn require_sdk() -> String {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", "import openai; print(openai.__version__)"])
        .output()
        .await;
    match probe {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "the openai Python package is missing: run `pip install {OPENAI_PIN}`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(error) => panic!(
            "python3 could not be started ({error}): install Python 3 and \
             `pip install {OPENAI_PIN}`"
        ),
    }
}

/// Runs the SDK script against `pylon` with `key` and returns its JSON summary.
async fn run_script(pylon: &Pylon, key: &str) -> Value {
    let base_url = format!("{}/v1", pylon.base_url);
    let child = tokio::process::Command::new("python3")
        .arg(script_path())
        .args(["--base-url", &base_url, "--api-key", key])
        .args(["--chat-model", CHAT_MODEL])
        .args(["--chat-only-model", CHAT_ONLY_MODEL])
        .args(["--embedding-model", EMBEDDING_MODEL])
        .args(["--image-model", IMAGE_MODEL])
        .args(["--moderation-model", MODERATION_MODEL])
        .args(["--speech-model", SPEECH_MODEL])
        .args(["--transcription-model", TRANSCRIPTION_MODEL])
        // Keep the SDK from reading a developer's own settings.
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_ORG_ID")
        .env_remove("OPENAI_PROJECT_ID")
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
        "the OpenAI SDK script failed ({}):\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        out.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the script's summary is not JSON ({e}): {stdout}"))
}

fn channel_for(base_url: &str) -> Value {
    let models: Vec<&str> = MODELS
        .iter()
        .copied()
        .filter(|m| *m != CHAT_ONLY_MODEL)
        .collect();
    json!({
        "type": 1, "name": "sdk", "key": "upstream-key", "base_url": base_url,
        "models": models.join(","), "group": "default", "priority": 0, "weight": 0,
    })
}

/// An OpenAI-compatible channel that has chat completions only.
fn chat_only_channel(base_url: &str) -> Value {
    json!({
        "type": 1, "name": "chat-only", "key": "upstream-key", "base_url": base_url,
        "models": CHAT_ONLY_MODEL, "group": "default", "priority": 0, "weight": 0,
        "setting": {"responses_api": false},
    })
}

/// How many relayed calls the summary lists per model.
fn relayed_per_model(summary: &Value) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for call in summary["relayed"].as_array().expect("relayed calls") {
        let model = call["model"].as_str().expect("model of a call").to_string();
        *counts.entry(model).or_insert(0) += 1;
    }
    counts
}

async fn the_openai_sdk_works_unchanged(backend: Backend) {
    let sdk_version = require_sdk().await;
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let ratios: serde_json::Map<String, Value> =
        MODELS.iter().map(|m| (m.to_string(), json!(1.0))).collect();
    set_option(&console, "ModelRatio", &Value::Object(ratios).to_string()).await;
    create_channel(&console, channel_for(&mock.base_url())).await;
    create_channel(&console, chat_only_channel(&mock.base_url())).await;
    let (_, key) = create_key(&console, "openai-sdk", 100_000_000, false).await;
    for model in MODELS {
        wait_until_routable(&pylon, &key, model).await;
    }

    let summary = run_script(&pylon, &key).await;
    eprintln!("openai {sdk_version}: {summary}");
    let steps: Vec<&str> = summary["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        steps,
        [
            "models",
            "chat",
            "chat_stream",
            "chat_stream_usage",
            "completions",
            "embeddings",
            "responses",
            "responses_converted",
            "images",
            "moderations",
            "speech",
            "transcription",
            "errors",
        ],
        "{summary}"
    );
    assert_eq!(
        summary["errors"],
        json!({
            "bad_key": 401,
            "unknown_model": 404,
            "unknown_model_retrieve": 404,
            "wrong_type": 400,
        }),
        "{summary}"
    );
    let expected = relayed_per_model(&summary);
    let relayed: i64 = expected.values().sum();
    assert_eq!(relayed, 14, "{summary}");
    assert_eq!(
        expected.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut all = MODELS.to_vec();
            all.sort_unstable();
            all
        },
        "every model was called"
    );
    // The refused calls never reached the upstream; every relayed one did, once.
    assert_eq!(mock.request_count(), 14, "{:?}", mock.requests());
    // The chat-only channel was asked for chat completions, streamed with its usage.
    let chat_only: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| {
            r.json
                .as_ref()
                .is_some_and(|body| body["model"] == CHAT_ONLY_MODEL)
        })
        .collect();
    assert_eq!(chat_only.len(), 2, "{chat_only:?}");
    for request in &chat_only {
        assert_eq!(request.path, "/v1/chat/completions", "{request:?}");
        let body = request.json.as_ref().expect("JSON body");
        assert!(
            body["messages"].is_array() && body.get("input").is_none(),
            "{body}"
        );
    }
    assert_eq!(
        chat_only[1].json.as_ref().expect("JSON")["stream_options"]["include_usage"],
        true
    );

    // One consume log row per relayed call, per model; nothing for the refused calls.
    let db = database(&pylon).await;
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", relayed).await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT model_name, COUNT(*) FROM logs WHERE type = 2 GROUP BY model_name")
            .fetch_all(&db)
            .await
            .expect("logs per model");
    let logged: BTreeMap<String, i64> = rows.into_iter().collect();
    assert_eq!(logged, expected);
    // The SDK read every stream to its end: the token-metered calls were billed on the
    // upstream's own usage, not on an estimate.
    let estimated = scalar(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND is_estimated <> 0 \
         AND model_name IN ('gpt-test', 'gpt-chat-only', 'text-embedding-test')",
    )
    .await;
    assert_eq!(
        estimated, 0,
        "streams read by the SDK were billed on an estimate"
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
on_every_backend!(the_openai_sdk_works_unchanged);
