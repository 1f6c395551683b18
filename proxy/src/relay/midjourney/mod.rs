//! new-api's Midjourney relay (midjourney-proxy): `/mj/*`, and the same under `/mj-fast`,
//! `/mj-turbo` and `/mj-relax` (the mode segment is dropped upstream, as new-api drops it).
//! Submissions go to a Midjourney Proxy (2) or Midjourney Proxy Plus (5) channel serving the
//! action's model name (`mj_imagine`, `mj_upscale`, ...; follow-up actions to the channel of
//! the task they act on) with `mj-api-secret: <channel key>`, and are charged their
//! `ModelPrice` once the upstream accepts them ([`submit`]); the task routes read Pylon's
//! stored task ([`view`]), and `/mj/image/{id}` streams a task's image within the operator's
//! fetch settings ([`image`]). The control plane's poller moves tasks forward and refunds the
//! failed ones; it also serves `/mj/notify`, midjourney-proxy's callback. The key comes from
//! `Authorization` or, as new-api reads it, `mj-api-secret`. The options come from the
//! snapshot the change feed keeps current.

mod image;
mod submit;
mod view;

pub use image::image_client;

use super::Relay;
use super::RelaySummary;
use super::auth;
use super::errors::RelayError;
use bytes::Bytes;
use pingora::proxy::Session;
use pylon_shared::db::now_secs;
use pylon_shared::midjourney::{REQUEST_ERROR, Settings};
use serde_json::json;
use std::sync::Arc;

/// The mode segments new-api accepts in front of `/mj`.
const MODES: [&str; 3] = ["/mj-fast", "/mj-turbo", "/mj-relax"];

/// The submission routes (`POST /mj/submit/{name}`).
const SUBMISSIONS: [&str; 11] = [
    "imagine",
    "change",
    "simple-change",
    "describe",
    "blend",
    "action",
    "modal",
    "shorten",
    "edits",
    "video",
    "upload-discord-images",
];

/// `path` without its mode segment, if it is a Midjourney path.
fn strip_mode(path: &str) -> Option<&str> {
    let under_mj = |p: &str| p == "/mj" || p.starts_with("/mj/");
    if under_mj(path) {
        return Some(path);
    }
    MODES
        .iter()
        .find_map(|mode| path.strip_prefix(mode))
        .filter(|rest| under_mj(rest))
}

/// Whether `path` is the Midjourney relay's.
pub fn is_midjourney_path(path: &str) -> bool {
    strip_mode(path).is_some()
}

/// What a Midjourney request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MjKind {
    /// `POST /mj/submit/{name}`.
    Submit(&'static str),
    /// `POST /mj/insight-face/swap`.
    SwapFace,
    /// `GET /mj/task/{id}/fetch`.
    Fetch(String),
    /// `GET /mj/task/{id}/image-seed`.
    ImageSeed(String),
    /// `POST /mj/task/list-by-condition`.
    ListByCondition,
    /// `GET /mj/image/{id}` (no key).
    Image(String),
}

/// A Midjourney route and the path the upstream is asked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MjRoute {
    pub kind: MjKind,
    /// The path without the mode segment (`/mj/...`).
    pub upstream_path: String,
}

impl MjRoute {
    /// The route of a request, if it is one.
    pub fn of(method: &http::Method, path: &str) -> Option<Self> {
        let path = strip_mode(path)?;
        let rest = path.strip_prefix("/mj/")?;
        let post = method == http::Method::POST;
        let get = method == http::Method::GET;
        let kind = match rest.split('/').collect::<Vec<_>>().as_slice() {
            ["submit", name] if post => MjKind::Submit(SUBMISSIONS.iter().find(|s| *s == name)?),
            ["insight-face", "swap"] if post => MjKind::SwapFace,
            ["task", "list-by-condition"] if post => MjKind::ListByCondition,
            ["task", id, "fetch"] if get && !id.is_empty() => MjKind::Fetch((*id).to_string()),
            ["task", id, "image-seed"] if get && !id.is_empty() => {
                MjKind::ImageSeed((*id).to_string())
            }
            ["image", id] if get && !id.is_empty() => MjKind::Image((*id).to_string()),
            _ => return None,
        };
        Some(Self {
            kind,
            upstream_path: path.to_string(),
        })
    }
}

/// An error in new-api's Midjourney shape: `{"description", "type": "upstream_error", "code"}`
/// (400; 429 for code 30).
#[derive(Debug, Clone)]
pub struct MjError {
    pub status: u16,
    pub code: i64,
    pub description: String,
}

impl MjError {
    /// A refusal of the request (new-api's code 4).
    pub fn request(description: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: REQUEST_ERROR,
            description: description.into(),
        }
    }

    /// An error with new-api's `code`.
    pub fn coded(code: i64, description: impl Into<String>) -> Self {
        Self {
            status: if code == 30 { 429 } else { 400 },
            code,
            description: description.into(),
        }
    }

    fn body(&self) -> Bytes {
        // new-api joins the description and an empty result with a space.
        Bytes::from(
            json!({
                "description": format!("{} ", self.description),
                "type": "upstream_error",
                "code": self.code,
            })
            .to_string(),
        )
    }

    async fn respond(&self, session: &mut Session) -> pingora::Result<()> {
        super::write_json(session, self.status, self.body()).await
    }
}

impl From<RelayError> for MjError {
    fn from(error: RelayError) -> Self {
        match error.status {
            429 => Self::coded(30, error.message),
            status if status >= 500 => Self {
                status,
                code: REQUEST_ERROR,
                description: error.message,
            },
            _ => Self::request(error.message),
        }
    }
}

/// Uses `mj-api-secret` as the key when no `Authorization` names one (or it is new-api's
/// placeholder `midjourney-proxy`), as new-api does.
fn secret_as_authorization(header: &mut pingora::http::RequestHeader) {
    let placeholder = header
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            let v = v
                .strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim();
            v.is_empty() || v == "midjourney-proxy"
        })
        .unwrap_or(true);
    if !placeholder {
        return;
    }
    let Some(secret) = header
        .headers
        .get("mj-api-secret")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.trim();
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
                .trim()
                .to_string()
        })
        .filter(|v| !v.is_empty())
    else {
        return;
    };
    let _ = header.insert_header("authorization", format!("Bearer {secret}"));
}

impl Relay {
    /// Serves a Midjourney request completely (the response is written here).
    pub(super) async fn serve_midjourney(
        &self,
        session: &mut Session,
        summary: &mut RelaySummary,
    ) -> pingora::Result<()> {
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_string();
        let Some(route) = MjRoute::of(&method, &path) else {
            return RelayError::model_not_found(format!("Invalid URL ({method} {path})"))
                .respond(session)
                .await;
        };
        if let MjKind::Image(id) = &route.kind {
            return match self.mj_image(session, id).await {
                Ok(result) => result,
                Err((status, error)) => {
                    let body = Bytes::from(json!({ "error": error }).to_string());
                    super::write_json(session, status, body).await
                }
            };
        }
        secret_as_authorization(session.req_header_mut());
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let caller =
            match auth::authenticate(&self.snapshot, session.req_header(), client_ip, now_secs())
                .await
            {
                Ok(caller) => caller,
                Err(error) => return error.respond(session).await,
            };
        let answer = match &route.kind {
            MjKind::Fetch(id) => self.mj_fetch(&caller, id).await,
            MjKind::ListByCondition => self.mj_list_by_condition(session, &caller).await,
            MjKind::ImageSeed(id) => self.mj_image_seed(session, &caller, id, &route).await,
            MjKind::Submit(_) | MjKind::SwapFace => {
                Box::pin(self.mj_submit(session, &caller, &route, client_ip, summary)).await
            }
            MjKind::Image(_) => unreachable!("answered above"),
        };
        match answer {
            Ok((status, body)) => super::write_json(session, status, body).await,
            Err(error) => error.respond(session).await,
        }
    }

    /// new-api's Midjourney options, as the change feed last brought them.
    fn mj_settings(&self) -> Arc<Settings> {
        self.snapshot.midjourney.load_full()
    }
}

/// A database error, as the Midjourney routes report it.
fn db_failed(error: pylon_shared::db::DbError) -> MjError {
    tracing::warn!(%error, "a Midjourney task query failed");
    MjError {
        status: 503,
        code: REQUEST_ERROR,
        description: "The task cannot be read right now; retry shortly".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_recognised_by_path() {
        let (get, post) = (&http::Method::GET, &http::Method::POST);
        let route = MjRoute::of(post, "/mj-fast/mj/submit/imagine").expect("route");
        assert_eq!(route.kind, MjKind::Submit("imagine"));
        assert_eq!(route.upstream_path, "/mj/submit/imagine");
        assert_eq!(
            MjRoute::of(get, "/mj/task/123/fetch").map(|r| r.kind),
            Some(MjKind::Fetch("123".into()))
        );
        assert_eq!(
            MjRoute::of(get, "/mj-relax/mj/image/9").map(|r| r.kind),
            Some(MjKind::Image("9".into()))
        );
        assert_eq!(
            MjRoute::of(post, "/mj/insight-face/swap").map(|r| r.kind),
            Some(MjKind::SwapFace)
        );
        assert_eq!(MjRoute::of(get, "/mj/submit/imagine"), None);
        assert_eq!(MjRoute::of(post, "/mj/submit/other"), None);
        assert!(is_midjourney_path("/mj/anything"));
        assert!(is_midjourney_path("/mj-turbo/mj/submit/blend"));
        assert!(!is_midjourney_path("/api/mj/self"));
        assert!(!is_midjourney_path("/mj-slow/mj/submit/imagine"));
        assert!(!is_midjourney_path("/mjx"));
    }
}
