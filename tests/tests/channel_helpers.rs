//! new-api's channel helpers (issue 13) on SQLite and on MySQL + Redis, with the control plane
//! served in this process: `PUT /api/channel/tag` edits every channel of a tag at once (checked
//! as a channel update, all or none); `POST /api/channel/fetch_models` lists the models of an
//! upstream that is not saved as a channel (root only); the Ollama helpers pull (plain and
//! streamed), delete and ask the version of a mock Ollama that checks what it receives. Common
//! users, anonymous callers, bad bodies and unknown ids are refused and change nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode as AxumStatus, Uri};
use axum::response::{IntoResponse, Response};
use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::catalogue_fixtures::{ok, root};
use pylon_tests::fixtures::{create_channel, openai_channel};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user, put, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The fields a tag edit may change, of channel `id`.
async fn editable(root: &Console, id: i64) -> Value {
    let c = ok(root.get(&format!("/api/channel/{id}")).await);
    json!({"tag": c["tag"], "priority": c["priority"], "weight": c["weight"],
        "models": c["models"], "group": c["group"], "model_mapping": c["model_mapping"],
        "header_override": c["header_override"]})
}

async fn user_console(plane: &InProcess, root: &Console, name: &str, role: i64) -> Console {
    create_user(root, name, role).await;
    let mut console = Console::new(&plane.base_url);
    console.login(name, PASSWORD).await;
    console
}

async fn tagged_channels_are_edited_together(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let a = create_channel(&root, openai_channel("a", "http://127.0.0.1:9", "m-a")).await;
    let b = create_channel(&root, openai_channel("b", "http://127.0.0.1:9", "m-b")).await;
    let c = create_channel(&root, openai_channel("c", "http://127.0.0.1:9", "m-c")).await;
    assert!(
        ok(root
            .post(
                "/api/channel/batch/tag",
                json!({"ids": [a, b], "tag": "fleet"})
            )
            .await)
            == json!(2)
    );
    let untouched = editable(&root, c).await;

    let edit = json!({"tag": "fleet", "new_tag": "fleet2", "priority": 5, "weight": 3,
        "models": "x-1,x-2", "groups": "default,vip", "model_mapping": r#"{"x-1": "up-1"}"#,
        "header_override": r#"{"X-Team": "t1"}"#, "param_override": ""});
    let common = user_console(&plane, &root, "common1", 1).await;
    refused(
        &put(&common, "/api/channel/tag", edit.clone()).await,
        INSUFFICIENT,
    );
    let anonymous = Console::new(&plane.base_url);
    let answer = put(&anonymous, "/api/channel/tag", edit.clone()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    let before = editable(&root, a).await;
    assert_eq!(before["tag"], json!("fleet"));

    // Bad input is refused, and no channel of the tag changes.
    for (body, expected) in [
        (json!({"tag": ""}), "tag is empty"),
        (json!({"new_tag": "x"}), "tag is empty"),
        (
            json!({"tag": "fleet", "weight": -1}),
            "weight must not be negative",
        ),
        (
            json!({"tag": "fleet", "model_mapping": "not json"}),
            "model_mapping",
        ),
        (
            json!({"tag": "fleet", "header_override": "[1]"}),
            "header_override",
        ),
        (
            json!({"tag": "fleet", "param_override": r#"{"a": 1}"#}),
            "param_override",
        ),
        (
            json!({"tag": "fleet", "priority": "high"}),
            "Invalid parameters",
        ),
    ] {
        refused(
            &put(&root, "/api/channel/tag", body.clone()).await,
            expected,
        );
    }
    assert_eq!(editable(&root, a).await, before);

    let edited = put(&root, "/api/channel/tag", edit).await;
    assert!(edited.success(), "{edited:?}");
    for id in [a, b] {
        let now = editable(&root, id).await;
        assert_eq!(
            now,
            json!({"tag": "fleet2", "priority": 5, "weight": 3, "models": "x-1,x-2",
                "group": "default,vip", "model_mapping": r#"{"x-1":"up-1"}"#,
                "header_override": r#"{"X-Team":"t1"}"#}),
            "channel {id}"
        );
    }
    assert_eq!(
        editable(&root, c).await,
        untouched,
        "untagged channels stay"
    );
    // The abilities follow: x-1 is served, m-a no longer.
    let enabled = ok(root.get("/api/channel/models_enabled").await);
    assert!(
        enabled
            .as_array()
            .is_some_and(|m| m.contains(&json!("x-1"))),
        "{enabled}"
    );
    assert!(
        !enabled
            .as_array()
            .is_some_and(|m| m.contains(&json!("m-a"))),
        "{enabled}"
    );

    // Empty models and groups keep the channels' own; a tag nobody has changes nothing.
    assert!(
        put(
            &root,
            "/api/channel/tag",
            json!({"tag": "fleet2", "models": "", "groups": ""})
        )
        .await
        .success()
    );
    assert_eq!(editable(&root, a).await["models"], json!("x-1,x-2"));
    assert!(
        put(
            &root,
            "/api/channel/tag",
            json!({"tag": "nobody", "priority": 9})
        )
        .await
        .success()
    );
    assert_eq!(editable(&root, c).await, untouched);
}

on_every_backend!(tagged_channels_are_edited_together);

async fn unsaved_channels_list_their_models(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| {
        Canned::json(
            &json!({"object": "list", "data": [{"id": "m-z"}, {"id": "m-a"}, {"id": "m-a"}]}),
        )
    })
    .await;
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let body = json!({"base_url": upstream.base_url, "type": 1, "key": " key-1 \nkey-2"});

    // Root only: an administrator and a common user are refused before any upstream call.
    let admin = user_console(&plane, &root, "admin1", 10).await;
    refused(
        &admin.post("/api/channel/fetch_models", body.clone()).await,
        INSUFFICIENT,
    );
    let common = user_console(&plane, &root, "common1", 1).await;
    refused(
        &common.post("/api/channel/fetch_models", body.clone()).await,
        INSUFFICIENT,
    );
    assert!(upstream.received().is_empty());

    let listed = root.post("/api/channel/fetch_models", body).await;
    assert!(listed.success(), "{listed:?}");
    assert_eq!(listed.data(), &json!(["m-a", "m-z"]));
    let asked = upstream.last();
    assert_eq!(asked.uri, "/v1/models");
    assert_eq!(
        asked.headers["authorization"], "Bearer key-1",
        "the first key"
    );

    for (body, expected) in [
        (
            json!({"type": 9999, "base_url": upstream.base_url}),
            "Unknown channel type",
        ),
        (json!({"type": 1, "base_url": "ftp://host"}), "base_url"),
        (json!({"type": "openai"}), "Invalid parameters"),
        (
            json!({"type": 1, "base_url": "http://127.0.0.1:9", "key": "k"}),
            "Fetching the model list failed",
        ),
    ] {
        refused(
            &root.post("/api/channel/fetch_models", body.clone()).await,
            expected,
        );
    }
    assert_eq!(
        upstream.received().len(),
        1,
        "refused bodies reached no upstream"
    );
}

on_every_backend!(unsaved_channels_list_their_models);

/// What the mock Ollama received: method, path, authorization and JSON body.
type Seen = Arc<Mutex<Vec<(String, String, String, Value)>>>;

/// A mock Ollama: `/api/pull` (plain, or streamed progress lines; the model `broken` fails
/// mid-stream, `absent` is refused), `/api/delete` (`absent` is not found), `/api/version`.
async fn mock_ollama(seen: Seen) -> String {
    async fn answer(
        State(seen): State<Seen>,
        method: AxumMethod,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        seen.lock().expect("lock").push((
            method.to_string(),
            uri.path().to_string(),
            auth,
            body.clone(),
        ));
        let model = body["name"].as_str().unwrap_or("");
        match (method.as_str(), uri.path()) {
            ("POST", "/api/pull") if model == "absent" => (
                AxumStatus::NOT_FOUND,
                "pull model manifest: file does not exist",
            )
                .into_response(),
            ("POST", "/api/pull") if body["stream"] == json!(true) => {
                let mut lines = vec![
                    json!({"status": "pulling manifest"}),
                    json!({"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 40}),
                ];
                lines.push(if model == "broken" {
                    json!({"error": "disk full"})
                } else {
                    json!({"status": "success"})
                });
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                ([("content-type", "application/x-ndjson")], text).into_response()
            }
            ("POST", "/api/pull") => Json(json!({"status": "success"})).into_response(),
            ("DELETE", "/api/delete") if model == "absent" => {
                (AxumStatus::NOT_FOUND, r#"{"error":"model not found"}"#).into_response()
            }
            ("DELETE", "/api/delete") => AxumStatus::OK.into_response(),
            ("GET", "/api/version") => Json(json!({"version": "0.5.7"})).into_response(),
            _ => AxumStatus::NOT_FOUND.into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(answer).with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base_url
}

/// The `data:` payloads of a server-sent event stream.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

async fn ollama_channels_are_managed(backend: Backend) {
    let seen: Seen = Arc::default();
    let ollama = mock_ollama(seen.clone()).await;
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let channel = create_channel(
        &root,
        json!({"type": 4, "name": "local", "key": "ollama-key", "base_url": ollama,
            "models": "llama3", "group": "default"}),
    )
    .await;
    let openai = create_channel(&root, openai_channel("openai", &ollama, "m")).await;
    let pull = json!({"channel_id": channel, "model_name": "llama3"});

    // Administrators only; refused calls reach no upstream.
    let common = user_console(&plane, &root, "common1", 1).await;
    let anonymous = Console::new(&plane.base_url);
    for (method, path) in [
        (Method::POST, "/api/channel/ollama/pull".to_string()),
        (Method::POST, "/api/channel/ollama/pull/stream".to_string()),
        (Method::DELETE, "/api/channel/ollama/delete".to_string()),
        (
            Method::GET,
            format!("/api/channel/ollama/version/{channel}"),
        ),
    ] {
        let body = Some(pull.to_string());
        refused(
            &common.send(method.clone(), &path, body.clone()).await,
            INSUFFICIENT,
        );
        let answer = anonymous.send(method, &path, body).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    }
    assert!(seen.lock().expect("lock").is_empty());

    // Pull, plain.
    let pulled = root.post("/api/channel/ollama/pull", pull.clone()).await;
    assert!(pulled.success(), "{pulled:?}");
    assert_eq!(pulled.message(), "Model llama3 pulled successfully");
    assert_eq!(
        seen.lock().expect("lock").last().cloned(),
        Some((
            "POST".into(),
            "/api/pull".into(),
            "Bearer ollama-key".into(),
            json!({"name": "llama3", "stream": false})
        ))
    );
    refused(
        &root
            .post(
                "/api/channel/ollama/pull",
                json!({"channel_id": channel, "model_name": "absent"}),
            )
            .await,
        "Failed to pull model: status code 404",
    );

    // Pull, streamed: the upstream's progress, then the outcome, then [DONE].
    let (status, text) = root
        .post_text("/api/channel/ollama/pull/stream", &pull)
        .await;
    assert_eq!(status, 200, "{text}");
    let got = events(&text);
    assert_eq!(got.len(), 5, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&got[0]).ok(),
        Some(json!({"status": "pulling manifest"}))
    );
    assert_eq!(
        serde_json::from_str::<Value>(&got[1]).ok(),
        Some(
            json!({"status": "pulling abc", "digest": "sha256:abc", "total": 100, "completed": 40})
        )
    );
    assert_eq!(
        serde_json::from_str::<Value>(&got[2]).ok(),
        Some(json!({"status": "success"}))
    );
    assert_eq!(
        serde_json::from_str::<Value>(&got[3]).ok(),
        Some(json!({"message": "Model llama3 pulled successfully"}))
    );
    assert_eq!(got[4], "[DONE]");
    assert_eq!(
        seen.lock().expect("lock").last().map(|s| s.3.clone()),
        Some(json!({"name": "llama3", "stream": true}))
    );
    let (_, text) = root
        .post_text(
            "/api/channel/ollama/pull/stream",
            &json!({"channel_id": channel, "model_name": "broken"}),
        )
        .await;
    let got = events(&text);
    assert_eq!(got.last().map(String::as_str), Some("[DONE]"), "{text}");
    let outcome: Value = serde_json::from_str(&got[got.len() - 2]).expect("JSON");
    assert_eq!(outcome, json!({"error": "Failed to pull model: disk full"}));

    // Delete and version.
    let deleted = root
        .send(
            Method::DELETE,
            "/api/channel/ollama/delete",
            Some(pull.to_string()),
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    assert_eq!(deleted.message(), "Model llama3 deleted successfully");
    assert_eq!(
        seen.lock().expect("lock").last().cloned(),
        Some((
            "DELETE".into(),
            "/api/delete".into(),
            "Bearer ollama-key".into(),
            json!({"name": "llama3"})
        ))
    );
    let missing = json!({"channel_id": channel, "model_name": "absent"});
    refused(
        &root
            .send(
                Method::DELETE,
                "/api/channel/ollama/delete",
                Some(missing.to_string()),
            )
            .await,
        "Failed to delete model: status code 404",
    );
    let version = root
        .get(&format!("/api/channel/ollama/version/{channel}"))
        .await;
    assert_eq!(ok(version), json!({"version": "0.5.7"}));

    // Bad bodies, unknown ids and channels of other types are refused and reach no upstream.
    let calls = seen.lock().expect("lock").len();
    for body in [
        json!({"channel_id": 0, "model_name": "llama3"}),
        json!({"channel_id": channel, "model_name": " "}),
        json!({"channel_id": "one"}),
    ] {
        let answer = root.post("/api/channel/ollama/pull", body.clone()).await;
        assert!(!answer.success(), "{body}: {answer:?}");
        let answer = root
            .post_raw("/api/channel/ollama/pull/stream", &body.to_string())
            .await;
        assert!(!answer.success(), "{body}: {answer:?}");
    }
    refused(
        &root
            .post(
                "/api/channel/ollama/pull",
                json!({"channel_id": 999_999, "model_name": "m"}),
            )
            .await,
        "Channel does not exist",
    );
    refused(
        &root
            .post(
                "/api/channel/ollama/pull",
                json!({"channel_id": openai, "model_name": "m"}),
            )
            .await,
        "only supported for Ollama channels",
    );
    refused(
        &root
            .get(&format!("/api/channel/ollama/version/{openai}"))
            .await,
        "only supported for Ollama",
    );
    refused(
        &root.get("/api/channel/ollama/version/999999").await,
        "Channel does not exist",
    );
    assert_eq!(seen.lock().expect("lock").len(), calls);
}

on_every_backend!(ollama_channels_are_managed);
