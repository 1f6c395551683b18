//! `POST /mj/notify`: midjourney-proxy's callback (new-api's `RelayMidjourneyNotify`), passed
//! upstream as the `notifyHook` of submissions while `MjNotifyEnabled` is on.
//!
//! midjourney-proxy signs nothing and new-api checks nothing: its handler writes whatever the
//! body says into the task with that id (and its router leaves the route commented out). A
//! callback that anyone can send must not be able to finish, fail (and so refund), or point
//! the image of any task somewhere else; so here the callback is only a sign that task `id`
//! moved. The task must exist, be unfinished and belong to a channel; Pylon then asks that
//! channel about it, with the key that made it, exactly as the poller does
//! (`list-by-condition`), and records the channel's answer through the poller's own path: a
//! failure is marked and refunded once (`mj_refund:<id>`). The body's other fields are never
//! stored. A replayed callback finds the task unchanged, or finished, and changes nothing.
//! Callbacks for one task are coalesced: while one is asking the upstream, others return at
//! once (the poller catches anything missed).

use super::poll;
use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use pylon_shared::midjourney::REQUEST_ERROR;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// At most this many tasks sharing one upstream id are looked at.
const SAME_ID_LIMIT: i64 = 10;

/// The tasks whose upstream is being asked about now, by this node.
fn in_flight() -> &'static Mutex<HashSet<String>> {
    static IN_FLIGHT: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    IN_FLIGHT.get_or_init(Mutex::default)
}

/// The client that asks the channels (one per process).
fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| match poll::http_client() {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "the Midjourney callback cannot build its HTTP client");
                None
            }
        })
        .as_ref()
}

/// Marks `mj_id` as being refreshed until dropped.
struct Refreshing(String);

impl Refreshing {
    fn start(mj_id: &str) -> Option<Self> {
        let mut set = in_flight().lock().unwrap_or_else(|e| e.into_inner());
        set.insert(mj_id.to_string())
            .then(|| Self(mj_id.to_string()))
    }
}

impl Drop for Refreshing {
    fn drop(&mut self) {
        let mut set = in_flight().lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.0);
    }
}

/// new-api's Midjourney error: `{"description": "<description> ", "type": "upstream_error",
/// "code": 4}`.
fn refused(status: StatusCode, description: &str) -> Response {
    let body = json!({
        "description": format!("{description} "),
        "type": "upstream_error",
        "code": REQUEST_ERROR,
    });
    (status, axum::Json(body)).into_response()
}

fn answered(id: &str, description: &str) -> Response {
    let body = json!({"code": 1, "description": description, "result": id});
    (StatusCode::OK, axum::Json(body)).into_response()
}

pub async fn notify(State(app): State<AppState>, body: Bytes) -> Response {
    if !app.settings.now().flag("MjNotifyEnabled") {
        return refused(StatusCode::FORBIDDEN, "mj_notify_disabled");
    }
    let Some(callback) = serde_json::from_slice::<Value>(&body)
        .ok()
        .filter(Value::is_object)
    else {
        return refused(StatusCode::BAD_REQUEST, "bind_request_body_failed");
    };
    let id = match callback.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        _ => return refused(StatusCode::BAD_REQUEST, "midjourney_task_not_found"),
    };
    let tasks = match app.db.midjourneys_by_mj_id(&id, SAME_ID_LIMIT).await {
        Ok(tasks) => tasks,
        Err(error) => {
            tracing::warn!(%error, "reading a Midjourney task for its callback failed");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "task_read_failed");
        }
    };
    // Only a task a channel made (a refused submission has no channel to ask).
    let tasks: Vec<_> = tasks.into_iter().filter(|t| t.channel_id != 0).collect();
    if tasks.is_empty() {
        return refused(StatusCode::BAD_REQUEST, "midjourney_task_not_found");
    }
    let unfinished: Vec<_> = tasks.into_iter().filter(|t| !t.finished()).collect();
    if unfinished.is_empty() {
        return answered(&id, "the task has ended; nothing changed");
    }
    let Some(_refreshing) = Refreshing::start(&id) else {
        return answered(&id, "the task is being refreshed");
    };
    let Some(client) = client() else {
        return refused(StatusCode::SERVICE_UNAVAILABLE, "notify_unavailable");
    };
    for task in &unfinished {
        if let Err(error) =
            poll::poll_channel(&app, client, task.channel_id, std::slice::from_ref(task)).await
        {
            tracing::info!(%error, task = task.id, "a Midjourney callback's upstream could not be asked; the poller will");
            return refused(StatusCode::BAD_GATEWAY, "upstream_query_failed");
        }
    }
    answered(&id, "success")
}
