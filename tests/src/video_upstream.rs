//! A mock of OpenAI's video API (`/v1/videos`) that checks what it receives: the channel key on
//! every call, the create request's body (kept for the test to read), the upstream ids asked
//! about. A task's course is set by its prompt: one containing "refuse" is refused with 400,
//! one containing "fail" fails at its first poll, any other is in progress at its first poll and
//! completed from the second on. `/content` answers [`VideoUpstream::content`]; `/remix` of a
//! known video creates a new task (kept with the others, its origin noted).

use crate::mock_server::{MockServer, bind};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The key the mock accepts.
pub const VIDEO_KEY: &str = "video-upstream-key";

/// One create request as received.
#[derive(Debug, Clone)]
pub struct Created {
    pub content_type: String,
    pub body: Bytes,
    /// The id the mock gave the task.
    pub id: String,
    /// The upstream video a remix remixes (`POST /v1/videos/{id}/remix`).
    pub remix_of: Option<String>,
}

#[derive(Default)]
struct Books {
    created: Vec<Created>,
    /// Upstream id -> whether it fails.
    fails: HashMap<String, bool>,
    /// Upstream id -> polls received.
    polls: HashMap<String, usize>,
    /// Calls with a wrong key.
    bad_keys: usize,
}

struct Mock {
    books: Mutex<Books>,
    content: Bytes,
}

/// The running mock.
pub struct VideoUpstream {
    pub base_url: String,
    mock: Arc<Mock>,
    _server: MockServer,
}

impl VideoUpstream {
    /// Starts the mock on a free port.
    pub async fn start() -> Self {
        let bound = bind("video upstream").await;
        let base_url = bound.base_url.clone();
        // 3 MiB that are not all alike, so that a truncated or reordered relay shows.
        let video: Vec<u8> = (0..3 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mock = Arc::new(Mock {
            books: Mutex::new(Books::default()),
            content: Bytes::from(video),
        });
        let router = Router::new()
            .route("/v1/videos", post(create))
            .route("/v1/videos/{id}", get(retrieve))
            .route("/v1/videos/{id}/content", get(content))
            .route("/v1/videos/{id}/remix", post(remix))
            .with_state(Arc::clone(&mock));
        Self {
            base_url,
            _server: bound.serve(router),
            mock,
        }
    }

    /// The video every finished task has.
    pub fn content(&self) -> Bytes {
        self.mock.content.clone()
    }

    /// The create requests received, oldest first.
    pub fn created(&self) -> Vec<Created> {
        self.books().created.clone()
    }

    /// How often the upstream task `id` was asked about.
    pub fn polls(&self, id: &str) -> usize {
        self.books().polls.get(id).copied().unwrap_or(0)
    }

    /// Calls that came with another key than [`VIDEO_KEY`].
    pub fn bad_keys(&self) -> usize {
        self.books().bad_keys
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.mock.books.lock().expect("mock books")
    }
}

fn authorised(mock: &Mock, headers: &HeaderMap) -> bool {
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {VIDEO_KEY}"));
    if !ok {
        mock.books.lock().expect("books").bad_keys += 1;
    }
    ok
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": "invalid_request_error",
        "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

async fn create(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&mock, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = String::from_utf8_lossy(&body).to_string();
    let (model, seconds) = if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (
            value["model"].as_str().unwrap_or("").to_string(),
            value["seconds"].as_str().unwrap_or("4").to_string(),
        )
    } else {
        (String::new(), "4".to_string())
    };
    if text.contains("refuse") {
        return error(StatusCode::BAD_REQUEST, "Your prompt was refused upstream");
    }
    let mut books = mock.books.lock().expect("books");
    let id = format!("video_up_{}", books.created.len() + 1);
    books.fails.insert(id.clone(), text.contains("fail"));
    books.created.push(Created {
        content_type,
        body: body.clone(),
        id: id.clone(),
        remix_of: None,
    });
    axum::Json(
        json!({"id": id, "object": "video", "model": model, "status": "queued",
        "progress": 0, "created_at": 1_700_000_000, "seconds": seconds, "size": "720x1280"}),
    )
    .into_response()
}

/// A remix of a known video: a new task, whose course its prompt sets as a create's does.
async fn remix(
    State(mock): State<Arc<Mock>>,
    Path(origin): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&mock, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let mut books = mock.books.lock().expect("books");
    if !books.fails.contains_key(&origin) {
        return error(StatusCode::NOT_FOUND, "No such video");
    }
    let id = format!("video_up_{}", books.created.len() + 1);
    books.fails.insert(id.clone(), text.contains("fail"));
    books.created.push(Created {
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        body: body.clone(),
        id: id.clone(),
        remix_of: Some(origin.clone()),
    });
    axum::Json(
        json!({"id": id, "object": "video", "model": "sora-2", "status": "queued",
        "progress": 0, "created_at": 1_700_000_000, "seconds": "8", "size": "720x1280",
        "remixed_from_video_id": origin}),
    )
    .into_response()
}

async fn retrieve(
    State(mock): State<Arc<Mock>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&mock, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    let mut books = mock.books.lock().expect("books");
    let Some(&fails) = books.fails.get(&id) else {
        return error(StatusCode::NOT_FOUND, "No such video");
    };
    let polls = books.polls.entry(id.clone()).or_insert(0);
    *polls += 1;
    let base = json!({"id": id, "object": "video", "model": "sora-2", "created_at": 1_700_000_000,
        "seconds": "8", "size": "720x1280"});
    let mut answer = base.as_object().cloned().unwrap_or_default();
    if fails {
        answer.insert("status".into(), json!("failed"));
        answer.insert("progress".into(), json!(0));
        answer.insert(
            "error".into(),
            json!({"code": "moderation_blocked", "message": "The video was blocked by moderation"}),
        );
    } else if *polls == 1 {
        answer.insert("status".into(), json!("in_progress"));
        answer.insert("progress".into(), json!(50));
    } else {
        answer.insert("status".into(), json!("completed"));
        answer.insert("progress".into(), json!(100));
        answer.insert("completed_at".into(), json!(1_700_000_100));
    }
    axum::Json(Value::Object(answer)).into_response()
}

async fn content(
    State(mock): State<Arc<Mock>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&mock, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Incorrect API key provided");
    }
    if !mock.books.lock().expect("books").fails.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "No such video");
    }
    let mut response = Response::new(Body::from(mock.content.clone()));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("video/mp4"),
    );
    response
}
