//! An upstream that answers every request with a body the test chose, by path and by whether
//! the request asked for a stream: for answers the benches' mock does not produce (recorded
//! provider payloads with cache writes, inline images...). It records each request (path and
//! query, headers, JSON body) so tests can check what the relay sent.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One canned answer: its content type and body.
#[derive(Debug, Clone)]
pub struct Canned {
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    /// A JSON answer.
    pub fn json(body: &Value) -> Canned {
        Canned {
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    /// A server-sent event stream of `data:` events (with `event:` names when given).
    pub fn sse<'a>(events: impl IntoIterator<Item = (Option<&'a str>, Value)>) -> Canned {
        let body = events
            .into_iter()
            .map(|(name, data)| match name {
                Some(name) => format!("event: {name}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            })
            .collect();
        Canned {
            content_type: "text/event-stream",
            body,
        }
    }

    /// An OpenAI chat completion of `model` saying `content` with `usage`: one JSON answer, or
    /// (`stream`) a content chunk, a finish chunk and a usage-only chunk ending in `[DONE]`.
    pub fn openai_chat(model: &str, content: &str, usage: &Value, stream: bool) -> Canned {
        if !stream {
            return Canned::json(&serde_json::json!({"id": "chatcmpl-canned",
                "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content}}],
                "usage": usage}));
        }
        let chunk = |choices: Value, usage: Option<&Value>| {
            let mut chunk = serde_json::json!({"id": "chatcmpl-canned",
                "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": choices});
            if let Some(usage) = usage {
                chunk["usage"] = usage.clone();
            }
            chunk
        };
        Canned::sse_done([
            chunk(
                serde_json::json!([{"index": 0, "finish_reason": null,
                    "delta": {"role": "assistant", "content": content}}]),
                None,
            ),
            chunk(
                serde_json::json!([{"index": 0, "finish_reason": "stop", "delta": {}}]),
                None,
            ),
            chunk(serde_json::json!([]), Some(usage)),
        ])
    }

    /// An OpenAI-style stream ending in `data: [DONE]`.
    pub fn sse_done(events: impl IntoIterator<Item = Value>) -> Canned {
        let mut canned = Canned::sse(events.into_iter().map(|e| (None, e)));
        canned.body.push_str("data: [DONE]\n\n");
        canned
    }
}

/// What the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub json: Option<Value>,
}

/// Chooses the answer from the path and whether a stream was asked for (`"stream": true` in
/// the body, or Gemini's `:streamGenerateContent`).
pub type Answerer = dyn Fn(&str, bool) -> Canned + Send + Sync;

#[derive(Clone)]
struct Shared {
    answer: Arc<Answerer>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A running canned upstream (stops with the test's runtime).
pub struct CannedUpstream {
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl CannedUpstream {
    /// Starts one on a free port.
    pub async fn start(answer: impl Fn(&str, bool) -> Canned + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Shared {
            answer: Arc::new(answer),
            received: Arc::default(),
        };
        let received = shared.received.clone();
        let app = Router::new().fallback(handle).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        CannedUpstream { base_url, received }
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// The latest request.
    pub fn last(&self) -> Received {
        self.received().pop().expect("the upstream was called")
    }
}

async fn handle(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let path = uri.path();
    let stream = path.ends_with(":streamGenerateContent")
        || json
            .as_ref()
            .and_then(|j| j.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let canned = (shared.answer)(path, stream);
    shared.received.lock().expect("lock").push(Received {
        uri: uri.to_string(),
        headers,
        json,
    });
    ([("content-type", canned.content_type)], canned.body).into_response()
}
