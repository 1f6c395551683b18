//! A mock of a Suno API upstream as new-api's Suno channels (type 36) speak it, that checks
//! what it receives: the channel key on every call, each submit's action and body (kept for
//! the test to read), each batch fetch's ids. `POST /suno/submit/{action}` answers
//! `{code, message, data: <upstream id>}`; a task's course is set by its prompt: one
//! containing "refuse" is refused with HTTP 400, one containing "broke" gets a code other than
//! `success`, one containing "fail" is `FAILURE` at its first fetch, any other is
//! `IN_PROGRESS` at its first fetch and `SUCCESS` from the second on. `POST /suno/fetch`
//! answers the ids it knows among those asked, in new-api's `SunoDataResponse`.

use crate::mock_server::{MockServer, bind};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The key the mock accepts.
pub const SUNO_KEY: &str = "suno-upstream-key";

/// One submit as received.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The path's action.
    pub action: String,
    pub body: Value,
    /// The id the mock gave the task.
    pub id: String,
}

#[derive(Default)]
struct Books {
    submitted: Vec<Submitted>,
    /// Upstream id -> whether it fails.
    fails: HashMap<String, bool>,
    /// Upstream id -> fetches that named it.
    polls: HashMap<String, usize>,
    /// The ids of each batch fetch, in order.
    fetches: Vec<Vec<String>>,
    /// Calls with a wrong key.
    bad_keys: usize,
}

/// The running mock.
pub struct SunoUpstream {
    pub base_url: String,
    books: Arc<Mutex<Books>>,
    _server: MockServer,
}

impl SunoUpstream {
    /// Starts the mock on a free port.
    pub async fn start() -> Self {
        let bound = bind("suno upstream").await;
        let base_url = bound.base_url.clone();
        let books = Arc::new(Mutex::new(Books::default()));
        let router = Router::new()
            .route("/suno/submit/{action}", post(submit))
            .route("/suno/fetch", post(fetch))
            .with_state(Arc::clone(&books));
        Self {
            base_url,
            _server: bound.serve(router),
            books,
        }
    }

    /// The submits received, oldest first.
    pub fn submitted(&self) -> Vec<Submitted> {
        self.books().submitted.clone()
    }

    /// How many fetches named the upstream task `id`.
    pub fn polls(&self, id: &str) -> usize {
        self.books().polls.get(id).copied().unwrap_or(0)
    }

    /// The ids of each batch fetch received, oldest first.
    pub fn fetches(&self) -> Vec<Vec<String>> {
        self.books().fetches.clone()
    }

    /// Calls that came with another key than [`SUNO_KEY`].
    pub fn bad_keys(&self) -> usize {
        self.books().bad_keys
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().expect("mock books")
    }
}

type Shared = Arc<Mutex<Books>>;

fn authorised(books: &Shared, headers: &HeaderMap) -> bool {
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SUNO_KEY}"));
    if !ok {
        books.lock().expect("books").bad_keys += 1;
    }
    ok
}

fn answer(status: StatusCode, code: &str, message: &str, data: Value) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message, "data": data})),
    )
        .into_response()
}

async fn submit(
    State(books): State<Shared>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&books, &headers) {
        return answer(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "bad key",
            Value::Null,
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return answer(StatusCode::BAD_REQUEST, "invalid", "not JSON", Value::Null);
    };
    let prompt = format!(
        "{} {}",
        body["prompt"].as_str().unwrap_or_default(),
        body["gpt_description_prompt"].as_str().unwrap_or_default()
    );
    if prompt.contains("refuse") {
        return answer(
            StatusCode::BAD_REQUEST,
            "invalid_prompt",
            "Your prompt was refused upstream",
            Value::Null,
        );
    }
    if prompt.contains("broke") {
        return answer(
            StatusCode::OK,
            "error",
            "upstream out of credits",
            Value::Null,
        );
    }
    let mut books = books.lock().expect("books");
    let id = format!("suno_up_{}", books.submitted.len() + 1);
    books.fails.insert(id.clone(), prompt.contains("fail"));
    books.submitted.push(Submitted {
        action,
        body,
        id: id.clone(),
    });
    answer(StatusCode::OK, "success", "", json!(id))
}

async fn fetch(State(books): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&books, &headers) {
        return answer(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "bad key",
            Value::Null,
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ids: Vec<String> = body["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut books = books.lock().expect("books");
    books.fetches.push(ids.clone());
    let mut items = Vec::new();
    for id in ids {
        let Some(&fails) = books.fails.get(&id) else {
            continue;
        };
        let polls = books.polls.entry(id.clone()).or_insert(0);
        *polls += 1;
        let item = if fails {
            json!({"task_id": id, "action": "MUSIC", "status": "FAILURE",
                "fail_reason": "The song was blocked by moderation", "submit_time": 1_700_000_000,
                "start_time": 1_700_000_001, "finish_time": 1_700_000_002, "data": null})
        } else if *polls == 1 {
            json!({"task_id": id, "action": "MUSIC", "status": "IN_PROGRESS", "fail_reason": "",
                "submit_time": 1_700_000_000, "start_time": 1_700_000_001, "finish_time": 0,
                "data": [{"id": format!("{id}_clip"), "status": "streaming"}]})
        } else {
            json!({"task_id": id, "action": "MUSIC", "status": "SUCCESS", "fail_reason": "",
                "submit_time": 1_700_000_000, "start_time": 1_700_000_001,
                "finish_time": 1_700_000_100,
                "data": [{"id": format!("{id}_clip"), "status": "complete",
                    "audio_url": format!("https://cdn.example/{id}.mp3")}]})
        };
        items.push(item);
    }
    answer(StatusCode::OK, "success", "", Value::Array(items))
}
