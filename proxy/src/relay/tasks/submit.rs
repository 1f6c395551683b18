//! `POST /v1/videos` (and new-api's alias `POST /v1/video/generations`): a video task created
//! on a channel that serves the model, as new-api's sora adaptor does. The price (`ModelPrice`
//! per second of video, see [`VideoRequest::quota`]) is held before the upstream is asked and
//! charged, with the usual log row, only when an upstream accepted the task; the client gets
//! Pylon's own task id, and the row keeps the upstream's. A refusal charges nothing.

use super::super::admission;
use super::super::auth::Caller;
use super::super::errors::RelayError;
use super::super::request::{
    multipart_boundary, multipart_field, multipart_field_range, read_body,
};
use super::super::snapshot::ChannelEntry;
use super::super::submission::{Submitted, per_request};
use super::super::{Relay, RelaySummary, ReservationGuard, routing};
use super::{MAX_ANSWER_BYTES, UPSTREAM_TIMEOUT, upstream_message};
use bytes::Bytes;
use pingora::proxy::Session;
use pylon_shared::db::{
    LOG_TYPE_CONSUME, LOG_TYPE_ERROR, NewTask, TASK_NOT_START, TaskRow, now_secs,
};
use pylon_shared::pricing::{Bounds, Price};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks::{self, VideoRequest};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Instant;

/// What one upstream did with the task.
enum Answer {
    /// Accepted: its id for the task, and its answer.
    Accepted { upstream_id: String, answer: Value },
    /// Refused for a reason of the request's: no other channel is tried.
    Refused { status: u16, message: String },
    /// The channel failed (unreachable, 5xx, 429, a refused key, a malformed answer): the next
    /// one is tried.
    Failed {
        status: Option<u16>,
        message: String,
    },
}

impl Relay {
    /// Creates a video task for `caller`: a new one, or (`remix`: the caller's task it remixes)
    /// a remix of an earlier video, as new-api relays it: the origin's model, billed like a new
    /// task at the origin's seconds and size, on the channel that made the origin only.
    pub(super) async fn submit_task(
        &self,
        session: &mut Session,
        caller: &Caller,
        client_ip: Option<IpAddr>,
        summary: &mut RelaySummary,
        remix: Option<&str>,
    ) -> Result<Bytes, RelayError> {
        let started = Instant::now();
        let body = read_body(session, self.config.max_body_bytes).await?;
        let content_type = session
            .req_header()
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_string();
        let origin = match remix {
            Some(id) => Some(self.remix_origin(caller, id).await?),
            None => None,
        };
        let video = match &origin {
            Some(origin) => video_tasks::remix_request(origin, remix_prompt(&content_type, &body)?),
            None => parse(&content_type, &body)?,
        };
        let action = if origin.is_some() {
            video_tasks::ACTION_REMIX
        } else {
            video.action()
        };
        summary.model.clone_from(&video.model);
        let group = self.may_use(caller, &video.model)?;
        let submitted = Submitted {
            caller,
            model: &video.model,
            group: &group,
            started,
            client_ip,
        };
        let routes = self.snapshot.routes.load();
        let route = routing::Route::resolve(&routes, &caller.token, &group, &video.model)?;
        // A remix goes to the channel that made its origin, or nowhere.
        let mut locked = match &origin {
            Some(origin) => Some(locked_channel(route.preferred(
                origin.channel_id,
                &group,
                &video.model,
                &[],
                &self.health,
            ))?),
            None => None,
        };
        let base_price = self.base_price(&video.model, &group)?;
        if !matches!(base_price, Price::PerRequest { .. }) {
            return Err(RelayError::unavailable(format!(
                "The model `{}` has no per-request price (ModelPrice) configured; video tasks \
                 are billed per request",
                video.model
            )));
        }
        let dearest = match &locked {
            Some(pick) => pick.served.total(),
            None => route.dearest(&group, &video.model),
        };
        let hold = video.quota(per_request(&base_price.with_multiplier(dearest)));
        self.within_rate_limits(caller, &video.model, &group)
            .await?;
        if self.settler.saturated() {
            self.metrics.settlement("backpressure", 1);
            return Err(RelayError::billing_behind());
        }
        let charged_token = (!caller.token.unlimited).then_some(caller.token.id);
        let bounds = Bounds {
            floor: hold,
            ceiling: hold,
        };
        let reservation = admission::reserve(&self.ledger, caller, charged_token, bounds).await?;
        let mut guard = ReservationGuard::new(&self.ledger, reservation);

        let mut tried: Vec<i64> = Vec::new();
        let mut last_failure: (Option<u16>, String) =
            (None, "no channel is available for this model".into());
        while tried.len() <= self.config.max_retries {
            let next = if origin.is_some() {
                locked.take()
            } else {
                route.next(&group, &video.model, &tried, &self.health, None)
            };
            let Some(routing::Pick { channel, served }) = next else {
                break;
            };
            tried.push(channel.id);
            summary.channel_id = channel.id;
            summary.retries = u32::try_from(tried.len() - 1).unwrap_or(u32::MAX);
            let key = match &origin {
                Some(origin) => channel.key_like(&origin.key_fingerprint),
                None => channel.pick_key(),
            };
            let Some(key) = key else {
                self.health.failure(channel.id);
                continue;
            };
            let upstream_model = channel.upstream_model(&video.model).to_string();
            let outgoing = upstream_body(&content_type, &body, &upstream_model, origin.is_none())?;
            let path = match &origin {
                Some(origin) => format!("/v1/videos/{}/remix", origin.upstream_task_id),
                None => "/v1/videos".to_string(),
            };
            match self
                .create_upstream(&channel, key, &content_type, &path, outgoing)
                .await
            {
                Answer::Accepted {
                    upstream_id,
                    mut answer,
                } => {
                    self.health.success(channel.id);
                    let price = base_price.with_multiplier(served.total());
                    let quota = video.quota(per_request(&price));
                    let task_id = video_tasks::new_task_id();
                    if let Some(object) = answer.as_object_mut() {
                        object.insert("id".into(), json!(task_id));
                        object.remove("task_id");
                        object.insert("model".into(), json!(video.model));
                        if let Some(origin) = &origin {
                            object.insert("remixed_from_video_id".into(), json!(origin.task_id));
                        }
                        object
                            .entry("seconds")
                            .or_insert_with(|| json!(video.seconds.to_string()));
                        if let Some(size) = &video.size {
                            object.entry("size").or_insert_with(|| json!(size));
                        }
                    }
                    let task = NewTask {
                        task_id: task_id.clone(),
                        platform: channel.kind.number().to_string(),
                        user_id: caller.user.id,
                        username: caller.user.username.clone(),
                        token_id: caller.token.id,
                        charged_token: charged_token.is_some(),
                        subscription_id: reservation.subscription_id().unwrap_or(0),
                        group: group.clone(),
                        channel_id: channel.id,
                        key_fingerprint: upstream_keys::fingerprint(key),
                        model: video.model.clone(),
                        upstream_model: upstream_model.clone(),
                        upstream_task_id: upstream_id,
                        quota,
                        action: action.to_string(),
                        status: TASK_NOT_START.to_string(),
                        progress: "0%".to_string(),
                        prompt: video.stored_prompt(),
                        data: video_tasks::stored_data(&answer),
                    };
                    if let Err(error) = self.db.insert_task(&task).await {
                        // Not recorded, so not charged: the client cannot follow the task.
                        tracing::error!(%error, channel = channel.id, "recording an accepted video task failed");
                        let record = submitted.record(
                            &tried,
                            (LOG_TYPE_ERROR, 0, 500),
                            format!(
                                "the upstream accepted the task but recording it failed: {error}"
                            ),
                        );
                        self.finish(&mut guard, caller, record, reservation).await;
                        return Err(RelayError::unavailable(
                            "The task could not be recorded; retry shortly",
                        ));
                    }
                    let mut record =
                        submitted.record(&tried, (LOG_TYPE_CONSUME, quota, 200), String::new());
                    record.upstream_model = upstream_model;
                    record.other = task_other(&task_id, &video, &price, &served);
                    self.finish(&mut guard, caller, record, reservation).await;
                    answer["status"] = json!("queued");
                    answer["progress"] = json!(0);
                    answer["object"] = json!("video");
                    answer["created_at"] = json!(now_secs());
                    return Ok(Bytes::from(answer.to_string()));
                }
                Answer::Refused { status, message } => {
                    self.health.success(channel.id);
                    let record = submitted.record(
                        &tried,
                        (LOG_TYPE_ERROR, 0, i64::from(status)),
                        message.clone(),
                    );
                    self.finish(&mut guard, caller, record, reservation).await;
                    return Err(RelayError::upstream(status, message));
                }
                Answer::Failed { status, message } => {
                    tracing::info!(channel = channel.id, ?status, %message, "video task attempt failed; trying again");
                    self.metrics.retry(channel.id);
                    self.health.failure(channel.id);
                    last_failure = (status, message);
                }
            }
        }
        let (status, message) = last_failure;
        let record = submitted.record(
            &tried,
            (LOG_TYPE_ERROR, 0, i64::from(status.unwrap_or(502))),
            message.clone(),
        );
        self.finish(&mut guard, caller, record, reservation).await;
        Err(match status {
            Some(429) => RelayError::upstream(429, message),
            _ => RelayError::upstream(502, message),
        })
    }

    /// The caller's task that a remix remixes (new-api's 400 `task_not_exist` when unknown or
    /// another user's).
    async fn remix_origin(&self, caller: &Caller, id: &str) -> Result<TaskRow, RelayError> {
        self.db
            .user_task(caller.user.id, id)
            .await
            .map_err(super::view::unavailable)?
            .ok_or_else(|| RelayError {
                code: Some("task_not_exist"),
                ..RelayError::bad_request(format!(
                    "task_origin_not_exist: the video `{id}` does not exist"
                ))
            })
    }

    /// Asks `channel` to create the task with `key` (at `path`: `/v1/videos`, or a remix's).
    async fn create_upstream(
        &self,
        channel: &ChannelEntry,
        key: &str,
        content_type: &str,
        path: &str,
        body: Bytes,
    ) -> Answer {
        let url = format!("{}{path}", video_tasks::base_url(&channel.base_url));
        let mut request = self
            .tasks_http
            .post(&url)
            .timeout(UPSTREAM_TIMEOUT)
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body);
        if !channel.openai_organization.is_empty() {
            request = request.header("OpenAI-Organization", channel.openai_organization.as_str());
        }
        for (name, value) in &channel.header_override {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer::Failed {
                    status: None,
                    message: format!("channel #{} could not be reached: {error}", channel.id),
                };
            }
        };
        let status = response.status().as_u16();
        let answer = match read_bounded(response).await {
            Ok(answer) => answer,
            Err(message) => {
                return Answer::Failed {
                    status: Some(status),
                    message,
                };
            }
        };
        if !(200..300).contains(&status) {
            let message = upstream_message(status, &answer);
            return if status >= 500 || matches!(status, 401 | 403 | 429) {
                Answer::Failed {
                    status: Some(status),
                    message,
                }
            } else {
                Answer::Refused { status, message }
            };
        }
        let parsed = serde_json::from_slice::<Value>(&answer).ok();
        match parsed
            .as_ref()
            .and_then(video_tasks::upstream_id)
            .zip(parsed.clone())
        {
            Some((upstream_id, answer)) if answer.is_object() => Answer::Accepted {
                upstream_id,
                answer,
            },
            _ => Answer::Failed {
                status: Some(status),
                message: format!(
                    "channel #{} answered without a task id: {}",
                    channel.id,
                    String::from_utf8_lossy(&answer)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ),
            },
        }
    }
}

/// The create request's fields, from JSON or a multipart form.
fn parse(content_type: &str, body: &[u8]) -> Result<VideoRequest, RelayError> {
    if let Some(boundary) = multipart_boundary(content_type) {
        let field = |name: &str| multipart_field(body, boundary, name);
        let reference = "name=\"input_reference\"";
        let input_reference = body
            .windows(reference.len())
            .any(|w| w == reference.as_bytes());
        return VideoRequest::from_fields(
            field("model"),
            field("prompt"),
            field("seconds"),
            field("size"),
            input_reference,
        )
        .map_err(RelayError::bad_request);
    }
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        return Err(RelayError::bad_request(
            "Expected a multipart/form-data body with a boundary",
        ));
    }
    VideoRequest::from_json(body).map_err(RelayError::bad_request)
}

/// The channel a remix is locked to (its origin's), or why there is none: new-api's 400
/// `task_channel_disable` for a channel that is disabled, deleted or no longer serves the
/// caller's group and model; 503 while it is unhealthy.
fn locked_channel(preferred: routing::Preferred) -> Result<routing::Pick, RelayError> {
    match preferred {
        routing::Preferred::Take(pick) => Ok(pick),
        routing::Preferred::Unavailable => Err(RelayError::unavailable(
            "The channel of the origin task is unavailable right now; retry shortly",
        )),
        routing::Preferred::NotCandidate => Err(RelayError {
            code: Some("task_channel_disable"),
            ..RelayError::bad_request("the channel of the origin task is disabled")
        }),
    }
}

/// A remix request's `prompt` (JSON, or a form's field), which new-api requires.
fn remix_prompt(content_type: &str, body: &[u8]) -> Result<String, RelayError> {
    let prompt = if let Some(boundary) = multipart_boundary(content_type) {
        multipart_field(body, boundary, "prompt")
    } else {
        let value: serde_json::Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))?;
        match value.get("prompt") {
            None | Some(Value::Null) => None,
            Some(Value::String(prompt)) => Some(prompt.clone()),
            Some(_) => return Err(RelayError::bad_request("The field prompt must be a string")),
        }
    };
    prompt
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| RelayError::bad_request("field prompt is required"))
}

/// The body sent upstream with the channel's model name, as new-api sends it: a JSON body
/// rewritten (without the playground's `group`; a remix's `model` only replaced when it has
/// one), a form with its `model` field's value replaced in place (every other part, files
/// included, as received).
fn upstream_body(
    content_type: &str,
    body: &Bytes,
    upstream_model: &str,
    insert_model: bool,
) -> Result<Bytes, RelayError> {
    if let Some(boundary) = multipart_boundary(content_type) {
        let Some(range) = multipart_field_range(body, boundary, "model") else {
            return Ok(body.clone());
        };
        let mut renamed = Vec::with_capacity(body.len() + upstream_model.len());
        renamed.extend_from_slice(&body[..range.start]);
        renamed.extend_from_slice(upstream_model.as_bytes());
        renamed.extend_from_slice(&body[range.end..]);
        return Ok(Bytes::from(renamed));
    }
    let mut object: serde_json::Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))?;
    if insert_model || object.contains_key("model") {
        object.insert("model".into(), json!(upstream_model));
    }
    object.remove("group");
    serde_json::to_vec(&object)
        .map(Bytes::from)
        .map_err(|e| RelayError::bad_request(format!("The request body cannot be rewritten: {e}")))
}

/// The log row's `other`: the task, its billing factors and the multipliers that applied.
fn task_other(
    task_id: &str,
    video: &VideoRequest,
    price: &Price,
    served: &routing::Served,
) -> String {
    let mut other = serde_json::Map::new();
    other.insert("task_id".into(), json!(task_id));
    other.insert("seconds".into(), json!(video.seconds));
    if let Some(size) = &video.size {
        other.insert("size".into(), json!(size));
    }
    if let Price::PerRequest {
        model_price,
        group_ratio,
        ..
    } = price
    {
        other.insert("model_price".into(), json!(model_price));
        other.insert("group_ratio".into(), json!(group_ratio));
    }
    served.describe(&mut other);
    Value::Object(other).to_string()
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer.
pub(super) async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut answer = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(format!(
                        "the upstream's answer is larger than {MAX_ANSWER_BYTES} bytes"
                    ));
                }
                answer.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(answer),
            Err(error) => return Err(format!("reading the upstream's answer failed: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na cat\r\n\
        --b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nsora-test\r\n\
        --b\r\nContent-Disposition: form-data; name=\"input_reference\"; filename=\"f.png\"\r\n\
        Content-Type: image/png\r\n\r\nPNG\r\n--b--\r\n";

    #[test]
    fn forms_are_read_and_renamed_in_place() {
        let content_type = "multipart/form-data; boundary=b";
        let video = parse(content_type, FORM.as_bytes()).expect("valid form");
        assert_eq!(video.model, "sora-test");
        assert_eq!(video.prompt, "a cat");
        assert_eq!(video.seconds, 4);
        assert!(video.input_reference);
        let renamed =
            upstream_body(content_type, &Bytes::from(FORM), "sora-2", true).expect("renamed");
        assert_eq!(
            renamed,
            FORM.replace("\r\n\r\nsora-test\r\n", "\r\n\r\nsora-2\r\n")
        );
        let json = upstream_body(
            "application/json",
            &Bytes::from_static(br#"{"model":"sora-test","prompt":"p","group":"vip"}"#),
            "sora-2",
            true,
        )
        .expect("renamed");
        let json: Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(json, json!({"model": "sora-2", "prompt": "p"}));
        assert!(parse("multipart/form-data", b"").is_err());
    }
}
