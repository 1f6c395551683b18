//! Channel tests and model lists for each channel type, through the formats layer's request
//! builder (the one the relay uses): an Anthropic channel is tested with `POST /v1/messages`
//! and `x-api-key`, a Gemini channel with `:generateContent` and `x-goog-api-key`, an Azure
//! channel with its deployment path, `api-version` and `api-key`. The mock upstream checks
//! each request and answers in its provider's format; a wrong key is refused in that
//! provider's error shape and the test reports it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pylon_tests::fixtures::{create_channel, root_console};
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every request the mock saw: (path and query, headers, body).
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Value)>>>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn remember(seen: &Seen, uri: &Uri, headers: &HeaderMap, body: &Value) {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    seen.lock()
        .unwrap()
        .push((path, headers.clone(), body.clone()));
}

async fn anthropic_messages(
    State(seen): State<Seen>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    remember(&seen, &uri, &headers, &body);
    if header(&headers, "x-api-key") != "claude-key"
        || header(&headers, "anthropic-version").is_empty()
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})),
        )
            .into_response();
    }
    Json(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": "h"}], "stop_reason": "max_tokens",
        "stop_sequence": null, "usage": {"input_tokens": 8, "output_tokens": 1}
    }))
    .into_response()
}

async fn anthropic_models(State(seen): State<Seen>, uri: Uri, headers: HeaderMap) -> Response {
    remember(&seen, &uri, &headers, &Value::Null);
    Json(json!({
        "data": [
            {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5"},
            {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5"}
        ],
        "has_more": false
    }))
    .into_response()
}

async fn gemini_generate(
    State(seen): State<Seen>,
    Path(model_action): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    remember(&seen, &uri, &headers, &body);
    if header(&headers, "x-goog-api-key") != "gemini-key" {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}})),
        )
            .into_response();
    }
    assert!(model_action.ends_with(":generateContent"), "{model_action}");
    Json(json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "h"}]}, "finishReason": "MAX_TOKENS", "index": 0}],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}
    }))
    .into_response()
}

async fn gemini_models(State(seen): State<Seen>, uri: Uri, headers: HeaderMap) -> Response {
    remember(&seen, &uri, &headers, &Value::Null);
    Json(json!({"models": [
        {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"},
        {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro"}
    ]}))
    .into_response()
}

async fn azure_chat(
    State(seen): State<Seen>,
    Path(deployment): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    remember(&seen, &uri, &headers, &body);
    if header(&headers, "api-key") != "azure-key" || !query.contains_key("api-version") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "401", "message": "Access denied due to invalid subscription key."}})),
        )
            .into_response();
    }
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": deployment,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "h"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    }))
    .into_response()
}

async fn start_upstream() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/v1/messages", post(anthropic_messages))
        .route("/v1/models", get(anthropic_models))
        .route("/v1beta/models/{model_action}", post(gemini_generate))
        .route("/v1beta/models", get(gemini_models))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(azure_chat),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn last(seen: &Seen) -> (String, HeaderMap, Value) {
    seen.lock()
        .unwrap()
        .last()
        .cloned()
        .expect("the mock saw a request")
}

async fn each_type_is_tested_in_its_own_format(backend: Backend) {
    let (upstream, seen) = start_upstream().await;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let channel = |name: &str, kind: i64, key: &str, models: &str| {
        json!({"name": name, "type": kind, "key": key, "base_url": upstream, "models": models,
               "other": "2024-10-21"})
    };
    let claude = create_channel(
        &root,
        channel("claude", 14, "claude-key", "claude-sonnet-4-5"),
    )
    .await;
    let claude_bad = create_channel(
        &root,
        channel("claude-bad", 14, "wrong", "claude-sonnet-4-5"),
    )
    .await;
    let gemini = create_channel(
        &root,
        channel("gemini", 24, "gemini-key", "gemini-2.5-flash"),
    )
    .await;
    let gemini_bad = create_channel(
        &root,
        channel("gemini-bad", 24, "wrong", "gemini-2.5-flash"),
    )
    .await;
    let azure = create_channel(&root, channel("azure", 3, "azure-key", "gpt-4o")).await;

    // Anthropic: /v1/messages with x-api-key and anthropic-version, max_tokens carried over.
    let answer = root.get(&format!("/api/channel/test/{claude}")).await;
    assert_eq!(answer.body["success"], json!(true), "{answer:?}");
    let (path, headers, body) = last(&seen);
    assert_eq!(path, "/v1/messages");
    assert_eq!(header(&headers, "x-api-key"), "claude-key");
    assert!(headers.get("authorization").is_none(), "{headers:?}");
    assert_eq!(body["model"], json!("claude-sonnet-4-5"));
    assert_eq!(body["max_tokens"], json!(1));
    assert_eq!(body["messages"][0]["role"], json!("user"));
    let refused = root.get(&format!("/api/channel/test/{claude_bad}")).await;
    assert_eq!(refused.body["success"], json!(false));
    assert!(
        refused.message().contains("401") && refused.message().contains("invalid x-api-key"),
        "{refused:?}"
    );

    // Gemini: :generateContent with x-goog-api-key, the prompt as contents.
    let answer = root.get(&format!("/api/channel/test/{gemini}")).await;
    assert_eq!(answer.body["success"], json!(true), "{answer:?}");
    let (path, headers, body) = last(&seen);
    assert_eq!(path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(header(&headers, "x-goog-api-key"), "gemini-key");
    assert_eq!(body["contents"][0]["parts"][0]["text"], json!("hi"));
    let refused = root.get(&format!("/api/channel/test/{gemini_bad}")).await;
    assert_eq!(refused.body["success"], json!(false));
    assert!(
        refused.message().contains("API key not valid"),
        "{refused:?}"
    );

    // Azure: the deployment in the path, api-version from the channel's `other`, api-key.
    let answer = root.get(&format!("/api/channel/test/{azure}")).await;
    assert_eq!(answer.body["success"], json!(true), "{answer:?}");
    let (path, headers, _) = last(&seen);
    assert_eq!(
        path,
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(header(&headers, "api-key"), "azure-key");

    // Model lists in each provider's format.
    let models = root
        .get(&format!("/api/channel/fetch_models/{claude}"))
        .await;
    assert_eq!(
        models.body["data"],
        json!(["claude-haiku-4-5", "claude-sonnet-4-5"]),
        "{models:?}"
    );
    assert_eq!(header(&last(&seen).1, "x-api-key"), "claude-key");
    let models = root
        .get(&format!("/api/channel/fetch_models/{gemini}"))
        .await;
    assert_eq!(
        models.body["data"],
        json!(["gemini-2.5-flash", "gemini-2.5-pro"]),
        "{models:?}"
    );
    // Unknown and malformed ids: clear errors, nothing sent upstream.
    let before = seen.lock().unwrap().len();
    assert!(!root.get("/api/channel/fetch_models/999999").await.success());
    assert!(!root.get("/api/channel/fetch_models/abc").await.success());
    assert_eq!(seen.lock().unwrap().len(), before);
}

on_every_backend!(each_type_is_tested_in_its_own_format);
