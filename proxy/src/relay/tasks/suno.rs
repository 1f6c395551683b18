//! new-api's Suno relay: `POST /suno/submit/{action}` (`music`, `lyrics`) creates a task on a
//! Suno channel (type 36) that serves the action's model (`suno_music`, `suno_lyrics`),
//! priced per request at that model's `ModelPrice`, held before the upstream is asked and
//! charged, with one log row, only when an upstream accepted the task; the client gets
//! `{code: "success", message, data: <Pylon's task id>}`, the row keeps the upstream's id. A
//! continuation (`continue_clip_id` with `task_id`) extends one of the caller's tasks, on the
//! channel that made it, with the upstream's id of it. `POST /suno/fetch` answers the caller's
//! tasks among the ids it names. Errors answer new-api's `{code, message, data: null}`.

use super::super::admission;
use super::super::auth::Caller;
use super::super::errors::RelayError;
use super::super::request::read_body;
use super::super::snapshot::ChannelEntry;
use super::super::submission::{Submitted, per_request};
use super::super::{Relay, RelaySummary, ReservationGuard, routing};
use super::submit::read_bounded;
use super::{TaskError, UPSTREAM_TIMEOUT};
use bytes::Bytes;
use pingora::proxy::Session;
use pylon_shared::db::{LOG_TYPE_CONSUME, LOG_TYPE_ERROR, NewTask, TASK_NOT_START, TaskRow};
use pylon_shared::pricing::{Bounds, Price};
use pylon_shared::suno::{self, Submit, SubmitAnswer};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Instant;

/// What one Suno upstream did with a submit.
enum Answer {
    /// Accepted: its task id and message.
    Accepted {
        upstream_id: String,
        message: String,
    },
    /// Refused for a reason of the request's (an HTTP 4xx): no other channel is tried.
    Refused { status: u16, message: String },
    /// The channel failed (unreachable, 5xx, 401, 403, 429, a code other than `success`, an
    /// unreadable answer): the next one is tried.
    Failed {
        status: u16,
        code: String,
        message: String,
    },
}

impl Relay {
    /// Creates a Suno task of `action` for `caller`.
    pub(super) async fn submit_suno(
        &self,
        session: &mut Session,
        caller: &Caller,
        action: &str,
        client_ip: Option<IpAddr>,
        summary: &mut RelaySummary,
    ) -> Result<Bytes, TaskError> {
        let started = Instant::now();
        let body = read_body(session, self.config.max_body_bytes).await?;
        let submit = Submit::parse(action, &body).map_err(|refusal| {
            TaskError::coded(RelayError::bad_request(refusal.message), refusal.code)
        })?;
        let model = submit.model();
        summary.model.clone_from(&model);
        let origin = match submit.origin() {
            Some(id) => Some(self.suno_origin(caller, id).await?),
            None => None,
        };
        let group = self.may_use(caller, &model)?;
        let routes = self.snapshot.routes.load();
        let route = routing::Route::resolve(&routes, &caller.token, &group, &model)?;
        let base_price = match self.base_price(&model, &group) {
            Ok(price @ Price::PerRequest { .. }) => price,
            _ => {
                return Err(TaskError::coded(
                    RelayError::bad_request(format!(
                        "The model `{model}` has no per-request price (ModelPrice) configured"
                    )),
                    "model_price_error",
                ));
            }
        };
        // A continuation goes to the channel that made its origin, or nowhere.
        let mut locked = match &origin {
            Some(origin) => Some(locked_channel(route.preferred(
                origin.channel_id,
                &group,
                &model,
                &[],
                &self.health,
            ))?),
            None => None,
        };
        let dearest = match &locked {
            Some(pick) => pick.served.total(),
            None => route.dearest(&group, &model),
        };
        let hold = per_request(&base_price.with_multiplier(dearest));
        self.within_rate_limits(caller, &model, &group).await?;
        if self.settler.saturated() {
            self.metrics.settlement("backpressure", 1);
            return Err(RelayError::billing_behind().into());
        }
        let charged_token = (!caller.token.unlimited).then_some(caller.token.id);
        let bounds = Bounds {
            floor: hold,
            ceiling: hold,
        };
        let reservation = admission::reserve(&self.ledger, caller, charged_token, bounds).await?;
        let mut guard = ReservationGuard::new(&self.ledger, reservation);
        let parts = Submitted {
            caller,
            model: &model,
            group: &group,
            started,
            client_ip,
        };

        let mut tried: Vec<i64> = Vec::new();
        let mut attempts = 0usize;
        let mut last_failure = (
            503,
            "get_channel_failed".to_string(),
            format!(
                "no Suno channel (type {}) is available for {model}",
                suno::CHANNEL_TYPE
            ),
        );
        while attempts <= self.config.max_retries {
            let next = if origin.is_some() {
                locked.take()
            } else {
                route.next(&group, &model, &tried, &self.health, None)
            };
            let Some(routing::Pick { channel, served }) = next else {
                break;
            };
            tried.push(channel.id);
            if channel.type_number != suno::CHANNEL_TYPE {
                // Serves the model's name but does not speak Suno's API.
                continue;
            }
            attempts += 1;
            summary.channel_id = channel.id;
            summary.retries = u32::try_from(attempts - 1).unwrap_or(u32::MAX);
            let key = match &origin {
                Some(origin) => channel.key_like(&origin.key_fingerprint),
                None => channel.pick_key(),
            };
            let Some(key) = key else {
                self.health.failure(channel.id);
                continue;
            };
            let mut request = submit.request.clone();
            if let Some(origin) = &origin {
                // The upstream knows the task it extends by its own id.
                request.task_id.clone_from(&origin.upstream_task_id);
            }
            let outgoing = serde_json::to_vec(&request).map(Bytes::from).map_err(|e| {
                RelayError::bad_request(format!("The request cannot be re-encoded: {e}"))
            })?;
            let accept = session
                .req_header()
                .headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match self
                .submit_upstream(&channel, key, submit.action, accept.as_deref(), outgoing)
                .await
            {
                Answer::Accepted {
                    upstream_id,
                    message,
                } => {
                    self.health.success(channel.id);
                    let price = base_price.with_multiplier(served.total());
                    let quota = per_request(&price);
                    let task_id = video_tasks::new_task_id();
                    let upstream_model = channel.upstream_model(&model).to_string();
                    let task = NewTask {
                        task_id: task_id.clone(),
                        platform: suno::PLATFORM.to_string(),
                        user_id: caller.user.id,
                        username: caller.user.username.clone(),
                        token_id: caller.token.id,
                        charged_token: charged_token.is_some(),
                        subscription_id: reservation.subscription_id().unwrap_or(0),
                        group: group.clone(),
                        channel_id: channel.id,
                        key_fingerprint: upstream_keys::fingerprint(key),
                        model: model.clone(),
                        upstream_model: upstream_model.clone(),
                        upstream_task_id: upstream_id,
                        quota,
                        action: submit.action.to_string(),
                        status: TASK_NOT_START.to_string(),
                        progress: "0%".to_string(),
                        prompt: submit.stored_prompt(),
                        data: String::new(),
                    };
                    if let Err(error) = self.db.insert_task(&task).await {
                        // Not recorded, so not charged: the client cannot follow the task.
                        tracing::error!(%error, channel = channel.id, "recording an accepted Suno task failed");
                        let record = parts.record(
                            &tried,
                            (LOG_TYPE_ERROR, 0, 500),
                            format!(
                                "the upstream accepted the task but recording it failed: {error}"
                            ),
                        );
                        self.finish(&mut guard, caller, record, reservation).await;
                        return Err(RelayError::unavailable(
                            "The task could not be recorded; retry shortly",
                        )
                        .into());
                    }
                    let mut record =
                        parts.record(&tried, (LOG_TYPE_CONSUME, quota, 200), String::new());
                    record.upstream_model = upstream_model;
                    record.other = other(&task_id, submit.action, &price, &served);
                    self.finish(&mut guard, caller, record, reservation).await;
                    return Ok(Bytes::from(
                        json!({"code": suno::SUCCESS_CODE, "message": message, "data": task_id})
                            .to_string(),
                    ));
                }
                Answer::Refused { status, message } => {
                    self.health.success(channel.id);
                    let record = parts.record(
                        &tried,
                        (LOG_TYPE_ERROR, 0, i64::from(status)),
                        message.clone(),
                    );
                    self.finish(&mut guard, caller, record, reservation).await;
                    return Err(TaskError::coded(
                        RelayError::upstream(status, message),
                        "fail_to_fetch_task",
                    ));
                }
                Answer::Failed {
                    status,
                    code,
                    message,
                } => {
                    tracing::info!(channel = channel.id, status, %message, "Suno task attempt failed; trying again");
                    self.metrics.retry(channel.id);
                    self.health.failure(channel.id);
                    last_failure = (status, code, message);
                }
            }
        }
        let (status, code, message) = last_failure;
        let record = parts.record(
            &tried,
            (LOG_TYPE_ERROR, 0, i64::from(status)),
            message.clone(),
        );
        self.finish(&mut guard, caller, record, reservation).await;
        let error = if status == 503 {
            RelayError::unavailable(message)
        } else {
            RelayError::upstream(status, message)
        };
        Err(TaskError::coded(error, code))
    }

    /// The caller's task a continuation extends (new-api's 400 `task_not_exist` when unknown
    /// or another user's).
    async fn suno_origin(&self, caller: &Caller, id: &str) -> Result<TaskRow, TaskError> {
        self.db
            .user_task(caller.user.id, id)
            .await
            .map_err(super::view::unavailable)?
            .ok_or_else(|| {
                TaskError::coded(
                    RelayError::bad_request("task_origin_not_exist"),
                    "task_not_exist",
                )
            })
    }

    /// Asks `channel` to create the task with `key`: `POST {base}/suno/submit/{action}`.
    async fn submit_upstream(
        &self,
        channel: &ChannelEntry,
        key: &str,
        action: &str,
        accept: Option<&str>,
        body: Bytes,
    ) -> Answer {
        let base = suno::base_url(&channel.base_url);
        if base.is_empty() {
            return Answer::Failed {
                status: 500,
                code: "channel_base_url_empty".into(),
                message: format!("channel #{} has no base URL", channel.id),
            };
        }
        let url = format!("{base}/suno/submit/{action}");
        let mut request = self
            .tasks_http
            .post(&url)
            .timeout(UPSTREAM_TIMEOUT)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        for (name, value) in &channel.header_override {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer::Failed {
                    status: 502,
                    code: "do_request_failed".into(),
                    message: format!("channel #{} could not be reached: {error}", channel.id),
                };
            }
        };
        let status = response.status().as_u16();
        let answer = match read_bounded(response).await {
            Ok(answer) => answer,
            Err(message) => {
                return Answer::Failed {
                    status: 502,
                    code: "read_response_body_failed".into(),
                    message,
                };
            }
        };
        if status != 200 {
            let message: String = String::from_utf8_lossy(&answer)
                .chars()
                .take(1000)
                .collect();
            return if status >= 500 || matches!(status, 401 | 403 | 429) || status < 400 {
                Answer::Failed {
                    status: if status < 400 { 502 } else { status },
                    code: "fail_to_fetch_task".into(),
                    message,
                }
            } else {
                Answer::Refused { status, message }
            };
        }
        match suno::submit_answer(&answer) {
            Ok(SubmitAnswer::Accepted {
                upstream_id,
                message,
            }) => Answer::Accepted {
                upstream_id,
                message,
            },
            Ok(SubmitAnswer::Refused { code, message }) => Answer::Failed {
                status: 500,
                code: if code.is_empty() {
                    "fail_to_fetch_task".into()
                } else {
                    code
                },
                message,
            },
            Err(message) => Answer::Failed {
                status: 500,
                code: "unmarshal_response_body_failed".into(),
                message,
            },
        }
    }

    /// `POST /suno/fetch`: the caller's tasks among `ids` (new-api's `TaskDto`s, in
    /// `{code: "success", message, data: [...]}`); unknown ids and other users' are left out.
    pub(super) async fn fetch_suno_tasks(
        &self,
        session: &mut Session,
        caller: &Caller,
    ) -> Result<Bytes, TaskError> {
        #[derive(Deserialize)]
        struct Condition {
            #[serde(default)]
            ids: Option<Vec<Value>>,
            #[serde(default)]
            #[expect(dead_code, reason = "read as new-api reads it; it filters nothing")]
            action: Option<String>,
        }
        let body = read_body(session, self.config.max_body_bytes).await?;
        let invalid =
            |message: String| TaskError::coded(RelayError::bad_request(message), "invalid_request");
        let condition: Condition =
            serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
        let ids: Vec<String> = condition
            .ids
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| match id {
                Value::String(id) => Some(id),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        if ids.len() > suno::MAX_FETCH_IDS {
            return Err(invalid(format!(
                "at most {} ids may be fetched at once",
                suno::MAX_FETCH_IDS
            )));
        }
        let rows = self
            .db
            .user_tasks_by_ids(caller.user.id, &ids)
            .await
            .map_err(super::view::unavailable)?;
        let server = if rows.is_empty() {
            String::new()
        } else {
            self.server_address()
        };
        let tasks: Vec<Value> = rows
            .iter()
            .map(|row| video_tasks::task_dto(row, &server, row.channel_id, None))
            .collect();
        Ok(Bytes::from(
            json!({"code": suno::SUCCESS_CODE, "message": "", "data": tasks}).to_string(),
        ))
    }
}

/// The channel a continuation is locked to (its origin's), or why there is none: new-api's 400
/// `task_channel_disable` for a channel that is disabled, deleted or no longer serves the
/// caller's group and model; 503 while it is unhealthy.
fn locked_channel(preferred: routing::Preferred) -> Result<routing::Pick, TaskError> {
    match preferred {
        routing::Preferred::Take(pick) => Ok(pick),
        routing::Preferred::Unavailable => Err(RelayError::unavailable(
            "The channel of the origin task is unavailable right now; retry shortly",
        )
        .into()),
        routing::Preferred::NotCandidate => Err(TaskError::coded(
            RelayError::bad_request("the channel of the origin task is disabled"),
            "task_channel_disable",
        )),
    }
}

/// The log row's `other`: the task, the action, its billing factors and the multipliers.
fn other(task_id: &str, action: &str, price: &Price, served: &routing::Served) -> String {
    let mut other = serde_json::Map::new();
    other.insert("task_id".into(), json!(task_id));
    other.insert("action".into(), json!(action));
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
