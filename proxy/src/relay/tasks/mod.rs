//! new-api's asynchronous video tasks (OpenAI's `/v1/videos`): create a task on a channel and
//! charge it when the upstream accepts it ([`submit`]), read it back from Pylon's task row, and
//! stream the finished video from the channel that made it ([`view`]). The control plane's
//! poller moves tasks forward and refunds failures. These routes are recognised by their path
//! alone, after the key's authentication and before anything a chat request needs.

mod submit;
mod view;

use super::Relay;
use super::RelaySummary;
use super::auth::Caller;
use super::errors::RelayError;
use pingora::proxy::Session;
use std::net::IpAddr;
use std::time::Duration;

/// How long an upstream may take to accept a task or to begin sending a video.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(120);
/// At most this much of an upstream's JSON answer is read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// A task route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRoute {
    /// `POST /v1/videos`, `POST /v1/video/generations`.
    Create,
    /// `GET /v1/videos/{id}`, `GET /v1/video/generations/{task_id}`.
    Get(String),
    /// `GET /v1/videos/{id}/content`.
    Content(String),
}

impl TaskRoute {
    /// The task route of a request, if it is one.
    pub fn of(method: &http::Method, path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        let rest = path
            .strip_prefix("/v1/videos")
            .or_else(|| path.strip_prefix("/v1/video/generations"))?;
        let openai = path.starts_with("/v1/videos");
        match (method, rest) {
            (&http::Method::POST, "") => Some(Self::Create),
            (&http::Method::GET, rest) => {
                let rest = rest.strip_prefix('/')?;
                match rest.split_once('/') {
                    None if !rest.is_empty() => Some(Self::Get(rest.to_string())),
                    Some((id, "content")) if openai && !id.is_empty() => {
                        Some(Self::Content(id.to_string()))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// An HTTP client for the task routes' upstream calls (straight to the upstream, as the
/// relay goes: environment proxies are ignored).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

impl Relay {
    /// Serves a task route for `caller` (the response is written here).
    pub(super) async fn serve_task(
        &self,
        session: &mut Session,
        caller: &Caller,
        route: TaskRoute,
        client_ip: Option<IpAddr>,
        summary: &mut RelaySummary,
    ) -> pingora::Result<()> {
        let answer = match route {
            TaskRoute::Create => self.submit_task(session, caller, client_ip, summary).await,
            TaskRoute::Get(id) => self.answer_task(caller, &id).await,
            TaskRoute::Content(id) => {
                return match self.stream_task_content(session, caller, &id).await {
                    Ok(streamed) => streamed,
                    Err(error) => error.respond(session).await,
                };
            }
        };
        match answer {
            Ok(body) => super::write_json(session, 200, body).await,
            Err(error) => error.respond(session).await,
        }
    }
}

/// The task id a client named is unknown to it (another user's, or none at all).
fn task_not_found(id: &str) -> RelayError {
    RelayError {
        code: Some("task_not_exist"),
        ..RelayError::model_not_found(format!("The task `{id}` does not exist"))
    }
}

/// The message of an upstream's error answer (OpenAI's `error.message`, else the text).
fn upstream_message(status: u16, body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    format!("upstream answered {status}: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_routes_are_recognised_by_path() {
        let (get, post) = (&http::Method::GET, &http::Method::POST);
        assert_eq!(TaskRoute::of(post, "/v1/videos"), Some(TaskRoute::Create));
        assert_eq!(
            TaskRoute::of(post, "/v1/video/generations"),
            Some(TaskRoute::Create)
        );
        assert_eq!(
            TaskRoute::of(get, "/v1/videos/task_1"),
            Some(TaskRoute::Get("task_1".into()))
        );
        assert_eq!(
            TaskRoute::of(get, "/v1/video/generations/task_1"),
            Some(TaskRoute::Get("task_1".into()))
        );
        assert_eq!(
            TaskRoute::of(get, "/v1/videos/task_1/content"),
            Some(TaskRoute::Content("task_1".into()))
        );
        assert_eq!(TaskRoute::of(get, "/v1/video/generations/t/content"), None);
        assert_eq!(TaskRoute::of(get, "/v1/videos"), None);
        assert_eq!(TaskRoute::of(post, "/v1/chat/completions"), None);
        assert_eq!(TaskRoute::of(post, "/v1/videosx"), None);
        assert_eq!(TaskRoute::of(get, "/v1/videos/a/b/c"), None);
    }
}
