//! new-api's Ollama channel helpers (administrators), for channels of type 4, with the
//! channel's base URL and its first key (sent as a bearer token when there is one):
//! - `POST /api/channel/ollama/pull` `{channel_id, model_name}` asks the upstream's
//!   `/api/pull` to download a model and answers when it is done;
//! - `POST /api/channel/ollama/pull/stream` does the same and relays the upstream's progress as
//!   server-sent events, one `data: {status, digest, total, completed}` per progress line, then
//!   `data: {"message": ...}` (or `data: {"error": ...}`) and `data: [DONE]`;
//! - `DELETE /api/channel/ollama/delete` `{channel_id, model_name}` asks `/api/delete`;
//! - `GET /api/channel/ollama/version/{id}` answers `{"version": ...}` from `/api/version`.

use super::{find, kinds, upstream::read_bounded};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// new-api's Ollama channel type.
const OLLAMA: i64 = 4;
/// How long a pull may take (new-api: 30 minutes, an hour when streamed).
const PULL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const STREAMED_PULL_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long the other calls may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A progress line longer than this is not relayed (Ollama's are about 200 bytes).
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Events buffered between the upstream and a slow client.
const EVENT_BUFFER: usize = 16;

/// The body of the pull and delete routes.
#[derive(Deserialize)]
pub struct ModelRequest {
    #[serde(default)]
    channel_id: i64,
    #[serde(default)]
    model_name: String,
}

/// Where and how to reach one Ollama channel.
struct Ollama {
    base_url: String,
    key: String,
}

impl Ollama {
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|_| "Cannot build an HTTP client".to_string())?;
        let mut builder = client.request(method, format!("{}{path}", self.base_url));
        if !self.key.is_empty() {
            builder = builder.bearer_auth(&self.key);
        }
        Ok(builder)
    }

    /// Sends a request and fails unless the upstream answers 200.
    async fn call(&self, builder: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
        let response = builder
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            let body = read_bounded(response).await.unwrap_or_default();
            return Err(format!(
                "status code {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&body).trim()
            ));
        }
        Ok(response)
    }
}

/// The Ollama channel `id`, or new-api's refusal.
async fn channel(app: &AppState, id: i64) -> Result<Ollama, ApiError> {
    let row = find(app, id).await?;
    if row.r#type != OLLAMA {
        return Err(ApiError::invalid(
            "This operation is only supported for Ollama channels",
        ));
    }
    Ok(Ollama {
        base_url: kinds::effective_base_url(row.r#type, &row.base_url),
        key: row.keys.lines().next().unwrap_or("").trim().to_string(),
    })
}

/// The channel and model a pull or delete names.
async fn target(app: &AppState, request: &ModelRequest) -> Result<(Ollama, String), ApiError> {
    let model = request.model_name.trim();
    if request.channel_id <= 0 || model.is_empty() {
        return Err(ApiError::invalid("Channel ID and model name are required"));
    }
    Ok((channel(app, request.channel_id).await?, model.to_string()))
}

pub async fn pull(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<ModelRequest>,
) -> ApiResult {
    let (ollama, model) = target(&app, &request).await?;
    let pulled = async {
        let builder = ollama.request(reqwest::Method::POST, "/api/pull", PULL_TIMEOUT)?;
        let response = ollama
            .call(builder.json(&json!({"name": model, "stream": false})))
            .await?;
        let body = read_bounded(response).await?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(answer) if answer.get("error").is_some() => Err(answer["error"].to_string()),
            _ => Ok(()),
        }
    }
    .await;
    match pulled {
        Ok(()) => Ok(envelope::ok_message(&format!(
            "Model {model} pulled successfully"
        ))),
        Err(reason) => Err(ApiError::invalid(format!("Failed to pull model: {reason}"))),
    }
}

pub async fn delete(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<ModelRequest>,
) -> ApiResult {
    let (ollama, model) = target(&app, &request).await?;
    let deleted = async {
        let builder = ollama.request(reqwest::Method::DELETE, "/api/delete", CALL_TIMEOUT)?;
        ollama.call(builder.json(&json!({"name": model}))).await
    }
    .await;
    match deleted {
        Ok(_) => Ok(envelope::ok_message(&format!(
            "Model {model} deleted successfully"
        ))),
        Err(reason) => Err(ApiError::invalid(format!(
            "Failed to delete model: {reason}"
        ))),
    }
}

pub async fn version(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let ollama = channel(&app, id).await?;
    let version = async {
        let builder = ollama.request(reqwest::Method::GET, "/api/version", CALL_TIMEOUT)?;
        let body = read_bounded(ollama.call(builder).await?).await?;
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("version")?.as_str().map(str::to_string))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| "the answer has no version".to_string())
    }
    .await;
    match version {
        Ok(version) => Ok(envelope::ok(json!({ "version": version }))),
        Err(reason) => Err(ApiError::invalid(format!(
            "Fetching the Ollama version failed: {reason}"
        ))),
    }
}

pub async fn pull_stream(
    State(app): State<AppState>,
    _: AdminUser,
    ApiJson(request): ApiJson<ModelRequest>,
) -> ApiResult {
    let (ollama, model) = target(&app, &request).await?;
    let (mut events, body) = futures::channel::mpsc::channel::<Bytes>(EVENT_BUFFER);
    tokio::spawn(async move {
        let outcome = relay_progress(&ollama, &model, &mut events).await;
        let last = match outcome {
            Ok(()) => json!({ "message": format!("Model {model} pulled successfully") }),
            Err(reason) => json!({ "error": format!("Failed to pull model: {reason}") }),
        };
        // A client that left gets nothing more; the pull request was dropped with it.
        let _ = events.send(event(&last.to_string())).await;
        let _ = events.send(event("[DONE]")).await;
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body.map(Ok::<Bytes, std::convert::Infallible>)),
    )
        .into_response())
}

/// One server-sent event.
fn event(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// Streams the upstream's pull and sends each progress line on as an event, until its
/// `success` status (Ok), an `error` (the reason), or the end of the answer without success.
async fn relay_progress(
    ollama: &Ollama,
    model: &str,
    events: &mut futures::channel::mpsc::Sender<Bytes>,
) -> Result<(), String> {
    let builder = ollama.request(reqwest::Method::POST, "/api/pull", STREAMED_PULL_TIMEOUT)?;
    let response = ollama
        .call(builder.json(&json!({"name": model, "stream": true})))
        .await?;
    let mut chunks = response.bytes_stream();
    let mut line: Vec<u8> = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| format!("reading the progress failed: {}", e.without_url()))?;
        for piece in chunk.split_inclusive(|b| *b == b'\n') {
            line.extend_from_slice(piece);
            if line.len() > MAX_LINE_BYTES {
                return Err("a progress line is too long".into());
            }
            if line.ends_with(b"\n") {
                let done = progress(&line, events).await?;
                line.clear();
                if done {
                    return Ok(());
                }
            }
        }
    }
    if !line.is_empty() && progress(&line, events).await? {
        return Ok(());
    }
    Err("the upstream ended without reporting success".into())
}

/// Relays one progress line; true when it reports success.
async fn progress(
    line: &[u8],
    events: &mut futures::channel::mpsc::Sender<Bytes>,
) -> Result<bool, String> {
    let Ok(Value::Object(progress)) = serde_json::from_slice::<Value>(line) else {
        return Ok(false);
    };
    if let Some(error) = progress.get("error").and_then(Value::as_str) {
        return Err(error.to_string());
    }
    let status = progress.get("status").and_then(Value::as_str).unwrap_or("");
    let shown: serde_json::Map<String, Value> = ["status", "digest", "total", "completed"]
        .into_iter()
        .filter_map(|field| Some((field.to_string(), progress.get(field)?.clone())))
        .collect();
    events
        .send(event(&Value::Object(shown).to_string()))
        .await
        .map_err(|_| "the client left".to_string())?;
    if status.eq_ignore_ascii_case("error") {
        return Err(String::from_utf8_lossy(line).trim().to_string());
    }
    Ok(status.eq_ignore_ascii_case("success"))
}
