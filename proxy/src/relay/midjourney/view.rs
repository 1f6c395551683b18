//! Reading tasks: `fetch` and `list-by-condition` answer from Pylon's stored tasks (another
//! user's id is not found), `image-seed` asks the channel that made the task.

use super::super::Relay;
use super::super::auth::Caller;
use super::super::request::read_body;
use super::{MjError, MjRoute, db_failed};
use bytes::Bytes;
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
        let settings = self.mj_settings();
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
        let settings = self.mj_settings();
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
}
