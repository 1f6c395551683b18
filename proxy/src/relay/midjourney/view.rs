//! Reading tasks: `fetch` and `list-by-condition` answer from Pylon's stored tasks (another
//! user's id is not found), `image-seed` asks the channel that made the task, and
//! `/mj/image/{id}` streams a task's image from where the upstream put it (no key, as in
//! new-api: the task id is the capability).

use super::super::Relay;
use super::super::auth::Caller;
use super::super::request::read_body;
use super::{MjError, MjRoute, db_failed};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pylon_shared::midjourney::{self, UNKNOWN_ERROR};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde_json::Value;
use std::time::Duration;

/// How long an upstream may take to answer (new-api: 30 s for image-seed).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// A nonce for the `rand` query of an unfinished task's image URL.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl Relay {
    /// `GET /mj/task/{id}/fetch`: the caller's task.
    pub(super) async fn mj_fetch(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(u16, Bytes), MjError> {
        let task = self
            .db
            .user_midjourney(caller.user.id, id)
            .await
            .map_err(db_failed)?
            .ok_or_else(|| MjError::request("task_no_found"))?;
        let settings = self.mj_settings().await;
        let dto = midjourney::fetch_dto(&task, &settings, nonce());
        Ok((200, Bytes::from(dto.to_string())))
    }

    /// `POST /mj/task/list-by-condition`: the caller's tasks among `ids` (others' are left out).
    pub(super) async fn mj_list_by_condition(
        &self,
        session: &mut Session,
        caller: &Caller,
    ) -> Result<(u16, Bytes), MjError> {
        let body = read_body(session, self.config.max_body_bytes).await?;
        let ids = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| MjError::request("do_request_failed"))?;
        let ids: Vec<String> = match ids.get("ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| id.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| MjError::request("do_request_failed"))?,
            Some(_) => return Err(MjError::request("do_request_failed")),
        };
        let tasks = self
            .db
            .user_midjourneys(caller.user.id, &ids)
            .await
            .map_err(db_failed)?;
        let settings = self.mj_settings().await;
        let now = nonce();
        let list: Vec<Value> = tasks
            .iter()
            .map(|task| midjourney::fetch_dto(task, &settings, now))
            .collect();
        Ok((200, Bytes::from(Value::Array(list).to_string())))
    }

    /// `GET /mj/task/{id}/image-seed`: asked of the channel that made the caller's task.
    pub(super) async fn mj_image_seed(
        &self,
        session: &Session,
        caller: &Caller,
        id: &str,
        route: &MjRoute,
    ) -> Result<(u16, Bytes), MjError> {
        let task = self
            .db
            .user_midjourney(caller.user.id, id)
            .await
            .map_err(db_failed)?
            .ok_or_else(|| MjError::request("task_no_found"))?;
        let channel = self
            .db
            .channel_by_id(task.channel_id)
            .await
            .map_err(db_failed)?
            .ok_or_else(|| MjError::request("get_channel_info_failed"))?;
        if channel.status != 1 {
            return Err(MjError::request("the channel of this task is disabled"));
        }
        let keys = upstream_keys::split(channel.r#type, &channel.keys);
        let key = video_tasks::channel_key(&keys, &task.key_fingerprint)
            .ok_or_else(|| MjError::request("get_channel_info_failed"))?;
        let query = session
            .req_header()
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!(
            "{}{}{query}",
            midjourney::base_url(&channel.base_url),
            route.upstream_path
        );
        let response = self
            .tasks_http
            .get(&url)
            .timeout(UPSTREAM_TIMEOUT)
            .header("mj-api-secret", key)
            .send()
            .await
            .map_err(|_| MjError::coded(UNKNOWN_ERROR, "do_request_failed"))?;
        let status = response.status().as_u16();
        let body = super::submit::read_answer(response).await?;
        Ok((status, body))
    }

    /// `GET /mj/image/{id}`: streams task `id`'s image (errors are new-api's `{"error": ...}`).
    pub(super) async fn mj_image(
        &self,
        session: &mut Session,
        id: &str,
    ) -> Result<pingora::Result<()>, (u16, String)> {
        let task = self
            .db
            .midjourney_by_mj_id(id)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading a Midjourney task failed");
                (503, "task_read_failed".to_string())
            })?
            .ok_or_else(|| (400, "midjourney_task_not_found".to_string()))?;
        let url = task.image_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err((
                403,
                "request blocked: the task has no image URL".to_string(),
            ));
        }
        let sent = self.tasks_http.get(url).send();
        let mut response = tokio::time::timeout(UPSTREAM_TIMEOUT, sent)
            .await
            .map_err(|_| (500, "http_get_image_failed".to_string()))?
            .map_err(|_| (500, "http_get_image_failed".to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = super::submit::read_answer(response)
                .await
                .unwrap_or_default();
            return Err((status, String::from_utf8_lossy(&body).into_owned()));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or("image/jpeg")
            .to_string();
        let build = || -> pingora::Result<ResponseHeader> {
            let mut header = ResponseHeader::build(200, Some(2))?;
            header.insert_header("Content-Type", content_type.as_str())?;
            if let Some(length) = response.content_length() {
                header.insert_header("Content-Length", length.to_string())?;
            }
            Ok(header)
        };
        let header = build().map_err(|_| (500, "http_get_image_failed".to_string()))?;
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
                    tracing::warn!(%error, task = %id, "the Midjourney image stream broke");
                    session.set_keepalive(None);
                    session.shutdown().await;
                    return Ok(Ok(()));
                }
            }
        }
    }
}
