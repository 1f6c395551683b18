//! A task as its owner reads it: `GET /v1/videos/{id}` answers OpenAI's video object from
//! Pylon's task row, as new-api answers from its database; new-api's own fetch routes
//! (`GET /v1/video/generations/{task_id}`, `GET /suno/fetch/{id}`) answer its `TaskDto` in
//! `{code, message, data}`; `GET /v1/videos/{id}/content` streams the video from
//! the channel that made it, with the key that made it, chunk by chunk. Another user's task,
//! or an unknown id, is 404 in OpenAI's format.

use super::super::Relay;
use super::super::auth::Caller;
use super::super::errors::RelayError;
use super::{TaskError, UPSTREAM_TIMEOUT, task_not_exist, task_not_found, upstream_message};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pylon_shared::db::{DbError, TASK_SUCCESS, TaskRow};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde_json::json;

/// Headers of the upstream's video answer passed to the client.
const PASSED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-disposition",
    "etag",
    "last-modified",
    "cache-control",
];

impl Relay {
    /// The caller's task `id` as OpenAI's video object.
    pub(super) async fn answer_task(&self, caller: &Caller, id: &str) -> Result<Bytes, RelayError> {
        let task = self.own_task(caller, id).await?;
        Ok(Bytes::from(video_tasks::video_object(&task).to_string()))
    }

    /// The caller's task `id` as new-api's fetch routes answer it
    /// (`GET /v1/video/generations/{task_id}`, `GET /suno/fetch/{id}`): `{code: "success",
    /// message, data}` with the task's `TaskDto`; an unknown id, or another user's, is new-api's
    /// 400 `task_not_exist`.
    pub(super) async fn fetch_task(&self, caller: &Caller, id: &str) -> Result<Bytes, TaskError> {
        let task = self
            .db
            .user_task(caller.user.id, id)
            .await
            .map_err(unavailable)?
            .ok_or_else(task_not_exist)?;
        let server = self.server_address();
        let dto = video_tasks::task_dto(&task, &server, task.channel_id, None);
        Ok(Bytes::from(
            json!({"code": "success", "message": "", "data": dto}).to_string(),
        ))
    }

    /// new-api's `ServerAddress` (empty when unset), from the snapshot: where finished videos
    /// are streamed from, in the tasks' `result_url`.
    pub(super) fn server_address(&self) -> String {
        self.snapshot.midjourney.load().server_address.clone()
    }

    /// Streams the caller's finished video `id` from its channel. Errors before the first byte
    /// are answered in OpenAI's format; after it, the stream is cut.
    pub(super) async fn stream_task_content(
        &self,
        session: &mut Session,
        caller: &Caller,
        id: &str,
    ) -> Result<pingora::Result<()>, RelayError> {
        let task = self.own_task(caller, id).await?;
        if task.status != TASK_SUCCESS {
            return Err(RelayError {
                code: Some("video_not_ready"),
                ..RelayError::bad_request(format!(
                    "The video of task `{id}` is not ready (status: {})",
                    video_tasks::video_status(&task.status)
                ))
            });
        }
        let channel = self
            .db
            .channel_by_id(task.channel_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                RelayError::unavailable(format!(
                    "The channel that made task `{id}` no longer exists"
                ))
            })?;
        let keys = upstream_keys::split(channel.r#type, &channel.keys);
        let key = video_tasks::channel_key(&keys, &task.key_fingerprint).ok_or_else(|| {
            RelayError::unavailable(format!("The channel that made task `{id}` has no key"))
        })?;
        let query = session
            .req_header()
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!(
            "{}/v1/videos/{}/content{query}",
            video_tasks::base_url(&channel.base_url),
            task.upstream_task_id
        );
        // Only the answer's start is timed: a long video streams for as long as it takes.
        let sent = self.tasks_http.get(&url).bearer_auth(key).send();
        let mut response = tokio::time::timeout(UPSTREAM_TIMEOUT, sent)
            .await
            .map_err(|_| RelayError::upstream(504, "the channel did not answer in time"))?
            .map_err(|error| {
                RelayError::upstream(502, format!("the channel could not be reached: {error}"))
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = super::submit::read_bounded(response)
                .await
                .unwrap_or_default();
            let status = if status == 404 { 404 } else { 502 };
            return Err(RelayError::upstream(
                status,
                upstream_message(status, &body),
            ));
        }
        let mut header = ResponseHeader::build(status, Some(PASSED_HEADERS.len()))
            .map_err(|_| RelayError::unavailable("The answer could not be built"))?;
        for name in PASSED_HEADERS {
            if let Some(value) = response.headers().get(*name) {
                header
                    .insert_header(*name, value.as_bytes())
                    .map_err(|_| RelayError::unavailable("The answer could not be built"))?;
            }
        }
        if let Err(error) = session.write_response_header(Box::new(header), false).await {
            return Ok(Err(error));
        }
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(error) = session.write_response_body(Some(chunk), false).await {
                        return Ok(Err(error));
                    }
                }
                Ok(None) => return Ok(session.write_response_body(None, true).await),
                Err(error) => {
                    tracing::warn!(%error, task = %task.task_id, "the upstream's video stream broke");
                    session.set_keepalive(None);
                    session.shutdown().await;
                    return Ok(Ok(()));
                }
            }
        }
    }

    /// The caller's task `id` (404 for an unknown one, or another user's).
    async fn own_task(&self, caller: &Caller, id: &str) -> Result<TaskRow, RelayError> {
        self.db
            .user_task(caller.user.id, id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| task_not_found(id))
    }
}

pub(super) fn unavailable(error: DbError) -> RelayError {
    tracing::warn!(%error, "reading a task failed");
    RelayError::unavailable("The task cannot be read right now; retry shortly")
}
