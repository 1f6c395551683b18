//! A mock of midjourney-proxy that checks what it receives: `mj-api-secret` on every call, the
//! submissions' paths and bodies (kept for the test to read), the ids asked about by
//! `list-by-condition`. A task's course is set by its prompt: one containing "refuse" is
//! refused with code 24, one containing "queue" is accepted with code 22 (queued), one
//! containing "fail" fails at its first poll, any other is in progress at its first poll and
//! succeeded from the second on, with an image the mock serves at `/images/{id}.png` (counted);
//! `/redirect?to=<url>` redirects there.

use crate::mock_server::{MockServer, bind};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The secret the mock accepts.
pub const MJ_KEY: &str = "mj-upstream-secret";
/// The image every finished task has.
pub const IMAGE: &[u8] = b"\x89PNG\r\n\x1a\nmidjourney image bytes";

/// One submission as received.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub path: String,
    pub body: Value,
    /// The id the mock gave the task.
    pub id: String,
}

#[derive(Default)]
struct Books {
    submitted: Vec<Submitted>,
    /// Upstream id -> (prompt fails, polls received).
    tasks: HashMap<String, (bool, usize)>,
    /// Calls with a wrong secret.
    bad_keys: usize,
    /// Images served.
    images: usize,
    /// Redirects served.
    redirects: usize,
}

struct Mock {
    books: Mutex<Books>,
    base_url: String,
}

/// The running mock.
pub struct MjUpstream {
    pub base_url: String,
    mock: Arc<Mock>,
    _server: MockServer,
}

impl MjUpstream {
    /// Starts the mock on a free port.
    pub async fn start() -> Self {
        let bound = bind("midjourney upstream").await;
        let base_url = bound.base_url.clone();
        let mock = Arc::new(Mock {
            books: Mutex::new(Books::default()),
            base_url: base_url.clone(),
        });
        let router = Router::new()
            .route("/mj/submit/{name}", post(submit))
            .route("/mj/insight-face/swap", post(submit))
            .route("/mj/task/list-by-condition", post(list))
            .route("/mj/task/{id}/image-seed", get(seed))
            .route("/images/{name}", get(image))
            .route("/redirect", get(redirect))
            .with_state(Arc::clone(&mock));
        Self {
            base_url,
            _server: bound.serve(router),
            mock,
        }
    }

    /// The submissions received, oldest first.
    pub fn submitted(&self) -> Vec<Submitted> {
        self.books().submitted.clone()
    }

    /// How often the upstream task `id` was asked about.
    pub fn polls(&self, id: &str) -> usize {
        self.books().tasks.get(id).map_or(0, |t| t.1)
    }

    /// The port the mock listens on.
    pub fn port(&self) -> u16 {
        self.base_url
            .rsplit(':')
            .next()
            .and_then(|port| port.trim_end_matches('/').parse().ok())
            .expect("the mock's port")
    }

    /// How many images the mock served.
    pub fn images(&self) -> usize {
        self.books().images
    }

    /// How many redirects the mock served.
    pub fn redirects(&self) -> usize {
        self.books().redirects
    }

    /// Calls that came with another secret than [`MJ_KEY`].
    pub fn bad_keys(&self) -> usize {
        self.books().bad_keys
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.mock.books.lock().expect("mock books")
    }
}

fn authorised(mock: &Mock, headers: &HeaderMap) -> bool {
    let ok = headers.get("mj-api-secret").and_then(|v| v.to_str().ok()) == Some(MJ_KEY);
    if !ok {
        mock.books.lock().expect("books").bad_keys += 1;
    }
    ok
}

fn unauthorised() -> Response {
    (StatusCode::UNAUTHORIZED, "key is invalid").into_response()
}

async fn submit(
    State(mock): State<Arc<Mock>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(&mock, &headers) {
        return unauthorised();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let prompt = body["prompt"].as_str().unwrap_or("").to_string();
    if prompt.contains("refuse") {
        return axum::Json(json!({"code": 24, "description": "可能包含敏感词",
            "properties": {"promptEn": prompt, "bannedWord": "refuse"}, "result": ""}))
        .into_response();
    }
    let mut books = mock.books.lock().expect("books");
    let id = format!("17000000000{}", books.submitted.len() + 1);
    books.tasks.insert(id.clone(), (prompt.contains("fail"), 0));
    books.submitted.push(Submitted {
        path: uri.path().to_string(),
        body,
        id: id.clone(),
    });
    let (code, description) = if prompt.contains("queue") {
        (22, "排队中，前面还有1个任务")
    } else {
        (1, "提交成功")
    };
    axum::Json(json!({"code": code, "description": description,
        "properties": {"discordInstanceId": "1"}, "result": id}))
    .into_response()
}

async fn list(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&mock, &headers) {
        return unauthorised();
    }
    let Ok(asked) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad body").into_response();
    };
    let mut books = mock.books.lock().expect("books");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut items = Vec::new();
    for id in asked["ids"].as_array().into_iter().flatten() {
        let Some(id) = id.as_str() else { continue };
        let Some(task) = books.tasks.get_mut(id) else {
            continue;
        };
        task.1 += 1;
        let mut item = json!({"id": id, "action": "IMAGINE", "prompt": "p", "promptEn": "p en",
            "description": "/imagine p", "state": "", "submitTime": now_ms,
            "startTime": now_ms, "finishTime": 0, "imageUrl": "",
            "status": "IN_PROGRESS", "progress": "50%", "failReason": "", "buttons": []});
        if task.0 {
            item["status"] = json!("FAILURE");
            item["progress"] = json!("0%");
            item["failReason"] = json!("banned prompt");
        } else if task.1 >= 2 {
            item["status"] = json!("SUCCESS");
            item["progress"] = json!("100%");
            item["finishTime"] = json!(now_ms);
            item["imageUrl"] = json!(format!("{}/images/{id}.png", mock.base_url));
            item["buttons"] = json!([{"customId": format!("MJ::JOB::upsample::1::{id}"),
                "emoji": "", "label": "U1", "type": 2, "style": 2}]);
            item["properties"] = json!({"finalPrompt": "p final", "finalZhPrompt": ""});
        }
        items.push(item);
    }
    axum::Json(Value::Array(items)).into_response()
}

async fn seed(
    State(mock): State<Arc<Mock>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorised(&mock, &headers) {
        return unauthorised();
    }
    axum::Json(json!({"code": 1, "description": "成功", "result": format!("seed-{id}")}))
        .into_response()
}

async fn image(State(mock): State<Arc<Mock>>, Path(_name): Path<String>) -> Response {
    mock.books.lock().expect("books").images += 1;
    let mut response = Response::new(axum::body::Body::from(IMAGE));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("image/png"),
    );
    response
}

/// `GET /redirect?to=<url>`: a redirect to `to`.
async fn redirect(
    State(mock): State<Arc<Mock>>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    mock.books.lock().expect("books").redirects += 1;
    let to = query.get("to").cloned().unwrap_or_default();
    (StatusCode::FOUND, [("location", to)]).into_response()
}
