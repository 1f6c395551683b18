//! new-api's asynchronous tasks: OpenAI's videos (`/v1/videos`) and Suno's music (`/suno/*`).
//! Create a task on a channel (a video remix on the channel of its origin) and charge it when
//! the upstream accepts it ([`submit`], [`suno`]), read it back from Pylon's task row, in
//! OpenAI's shape or new-api's, and stream the finished video from the channel that made it
//! ([`view`]). The control plane's
//! poller moves tasks forward and refunds failures. These routes are recognised by their path
//! alone, after the key's authentication and before anything a chat request needs.

mod submit;
mod suno;
mod view;

use super::Relay;
use super::RelaySummary;
use super::auth::Caller;
use super::errors::RelayError;
use bytes::Bytes;
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
    /// `POST /v1/videos/{video_id}/remix`.
    Remix(String),
    /// `GET /v1/videos/{id}`: OpenAI's video object.
    Get(String),
    /// `GET /v1/video/generations/{task_id}`: new-api's `{code, message, data}` with the task.
    Fetch(String),
    /// `GET /v1/videos/{id}/content`.
    Content(String),
    /// `POST /suno/submit/{action}`.
    SunoSubmit(String),
    /// `POST /suno/fetch`: the caller's tasks among the ids of the body.
    SunoFetch,
    /// `GET /suno/fetch/{id}`.
    SunoFetchOne(String),
}

impl TaskRoute {
    /// The task route of a request, if it is one.
    pub fn of(method: &http::Method, path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if let Some(rest) = path.strip_prefix("/suno/") {
            return Self::suno(method, rest);
        }
        let rest = path
            .strip_prefix("/v1/videos")
            .or_else(|| path.strip_prefix("/v1/video/generations"))?;
        let openai = path.starts_with("/v1/videos");
        match (method, rest) {
            (&http::Method::POST, "") => Some(Self::Create),
            (&http::Method::POST, rest) if openai => {
                let (id, action) = rest.strip_prefix('/')?.split_once('/')?;
                (action == "remix" && !id.is_empty()).then(|| Self::Remix(id.to_string()))
            }
            (&http::Method::GET, rest) => {
                let rest = rest.strip_prefix('/')?;
                match rest.split_once('/') {
                    None if !rest.is_empty() && openai => Some(Self::Get(rest.to_string())),
                    None if !rest.is_empty() => Some(Self::Fetch(rest.to_string())),
                    Some((id, "content")) if openai && !id.is_empty() => {
                        Some(Self::Content(id.to_string()))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// new-api's Suno routes (`rest`: the path after `/suno/`).
    fn suno(method: &http::Method, rest: &str) -> Option<Self> {
        let one = |segment: &str| (!segment.is_empty() && !segment.contains('/')).then_some(());
        match (method, rest) {
            (&http::Method::POST, "fetch") => Some(Self::SunoFetch),
            (&http::Method::POST, rest) => {
                let action = rest.strip_prefix("submit/")?;
                one(action).map(|()| Self::SunoSubmit(action.to_string()))
            }
            (&http::Method::GET, rest) => {
                let id = rest.strip_prefix("fetch/")?;
                one(id).map(|()| Self::SunoFetchOne(id.to_string()))
            }
            _ => None,
        }
    }

    /// The route answers in new-api's task shape (`{code, message, data}`, errors too) rather
    /// than OpenAI's.
    fn new_api_shaped(&self) -> bool {
        matches!(
            self,
            Self::Fetch(_) | Self::SunoSubmit(_) | Self::SunoFetch | Self::SunoFetchOne(_)
        )
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
        let new_api = route.new_api_shaped();
        let answer = match route {
            TaskRoute::Create => self
                .submit_task(session, caller, client_ip, summary, None)
                .await
                .map_err(TaskError::from),
            TaskRoute::Remix(id) => self
                .submit_task(session, caller, client_ip, summary, Some(&id))
                .await
                .map_err(TaskError::from),
            TaskRoute::Get(id) => self.answer_task(caller, &id).await.map_err(TaskError::from),
            TaskRoute::Content(id) => {
                return match self.stream_task_content(session, caller, &id).await {
                    Ok(streamed) => streamed,
                    Err(error) => error.respond(session).await,
                };
            }
            TaskRoute::Fetch(id) | TaskRoute::SunoFetchOne(id) => {
                self.fetch_task(caller, &id).await
            }
            TaskRoute::SunoFetch => self.fetch_suno_tasks(session, caller).await,
            TaskRoute::SunoSubmit(action) => {
                self.submit_suno(session, caller, &action, client_ip, summary)
                    .await
            }
        };
        match answer {
            Ok(body) => super::write_json(session, 200, body).await,
            Err(error) if new_api => error.respond_new_api(session).await,
            Err(error) => error.relay.respond(session).await,
        }
    }
}

/// An error of a task route: the relay's (answered in OpenAI's shape on OpenAI's routes), and
/// new-api's task error code of it (`{code, message, data}` on new-api's routes).
#[derive(Debug, Clone)]
pub(super) struct TaskError {
    pub relay: Box<RelayError>,
    /// new-api's code, when it is not the relay error's.
    pub code: Option<String>,
}

impl From<RelayError> for TaskError {
    fn from(relay: RelayError) -> Self {
        Self {
            relay: Box::new(relay),
            code: None,
        }
    }
}

impl TaskError {
    /// An error with new-api's task error `code`.
    pub fn coded(relay: RelayError, code: impl Into<String>) -> Self {
        Self {
            relay: Box::new(relay),
            code: Some(code.into()),
        }
    }

    /// new-api's `TaskError` body: `{code, message, data: null}`.
    fn new_api_body(&self) -> Bytes {
        let code = self
            .code
            .clone()
            .or_else(|| self.relay.code.map(str::to_string))
            .unwrap_or_else(|| self.relay.kind.to_string());
        Bytes::from(
            serde_json::json!({"code": code, "message": self.relay.message, "data": null})
                .to_string(),
        )
    }

    async fn respond_new_api(&self, session: &mut Session) -> pingora::Result<()> {
        super::write_json(session, self.relay.status, self.new_api_body()).await
    }
}

/// new-api's answer of a task that does not exist for the caller (400 `task_not_exist`).
fn task_not_exist() -> TaskError {
    TaskError::coded(RelayError::bad_request("task_not_exist"), "task_not_exist")
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
            Some(TaskRoute::Fetch("task_1".into()))
        );
        assert_eq!(
            TaskRoute::of(post, "/v1/videos/task_1/remix"),
            Some(TaskRoute::Remix("task_1".into()))
        );
        assert_eq!(TaskRoute::of(post, "/v1/videos/task_1/other"), None);
        assert_eq!(TaskRoute::of(post, "/v1/video/generations/t/remix"), None);
        assert_eq!(
            TaskRoute::of(post, "/suno/submit/music"),
            Some(TaskRoute::SunoSubmit("music".into()))
        );
        assert_eq!(
            TaskRoute::of(post, "/suno/fetch"),
            Some(TaskRoute::SunoFetch)
        );
        assert_eq!(
            TaskRoute::of(get, "/suno/fetch/task_1"),
            Some(TaskRoute::SunoFetchOne("task_1".into()))
        );
        assert_eq!(TaskRoute::of(post, "/suno/submit/"), None);
        assert_eq!(TaskRoute::of(post, "/suno/submit/a/b"), None);
        assert_eq!(TaskRoute::of(get, "/suno/fetch"), None);
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
