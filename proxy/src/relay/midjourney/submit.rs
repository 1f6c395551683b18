//! Submissions: `POST /mj/submit/*` and `/mj/insight-face/swap`, as new-api's
//! `RelayMidjourneySubmit` and `RelaySwapFace` do them. The action names the model
//! (`mj_<action>`, `swap_face`) whose `ModelPrice` is held before the upstream is asked and
//! charged, with its log row, only when the upstream accepted the task (HTTP 200 and code 1,
//! 21 or 22; swap-face: code 1); the client gets the upstream's answer (codes 21 and 22
//! rewritten to 1, as new-api does) and its task id. Every submission is recorded; a refused
//! one as failed, with nothing charged.

use super::super::auth::Caller;
use super::super::request::read_body;
use super::super::submission::{Submitted, per_request};
use super::super::{Relay, RelaySummary, ReservationGuard, admission, routing};
use super::{MjError, MjKind, MjRoute, db_failed};
use bytes::Bytes;
use pingora::proxy::Session;
use pylon_shared::db::{
    LOG_TYPE_CONSUME, LOG_TYPE_ERROR, MidjourneyRow, TASK_FAILURE, TASK_SUCCESS,
};
use pylon_shared::midjourney::{self as mj, Settings, UNKNOWN_ERROR};
use pylon_shared::pricing::{Bounds, Price};
use pylon_shared::upstream_keys;
use pylon_shared::video_tasks;
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long an upstream may take to accept a submission (new-api: 60 s).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this much of an upstream's answer is read.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where a submission goes.
struct Target {
    channel_id: i64,
    base_url: String,
    key: String,
    header_override: Vec<(String, String)>,
}

/// What the client asked for, read from the body.
struct Submission {
    action: String,
    /// The task a follow-up acts on.
    origin: Option<String>,
    prompt: String,
}

/// The current time in milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an upstream's answer.
pub(super) async fn read_answer(mut response: reqwest::Response) -> Result<Bytes, MjError> {
    let mut answer = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(MjError::coded(UNKNOWN_ERROR, "read_response_body_failed"));
                }
                answer.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(Bytes::from(answer)),
            Err(_) => return Err(MjError::coded(UNKNOWN_ERROR, "read_response_body_failed")),
        }
    }
}

/// The action, the task it acts on and the prompt of a submission, or new-api's refusal.
fn read_submission(kind: &MjKind, request: &Map<String, Value>) -> Result<Submission, MjError> {
    let text = |name: &str| {
        request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let task_id = text("taskId");
    let origin = (!task_id.is_empty()).then(|| task_id.clone());
    let fixed = |action: &str| Submission {
        action: action.to_string(),
        origin: None,
        prompt: text("prompt"),
    };
    Ok(match kind {
        MjKind::SwapFace => {
            if text("sourceBase64").is_empty() || text("targetBase64").is_empty() {
                return Err(MjError::request(
                    "sour_base64_and_target_base64_is_required",
                ));
            }
            Submission {
                action: mj::SWAP_FACE.into(),
                origin: None,
                prompt: "InsightFace".into(),
            }
        }
        MjKind::Submit("imagine") => {
            if text("prompt").is_empty() {
                return Err(MjError::request("prompt_is_required"));
            }
            fixed(mj::IMAGINE)
        }
        MjKind::Submit("describe") => fixed(mj::DESCRIBE),
        MjKind::Submit("edits") => fixed(mj::EDITS),
        MjKind::Submit("shorten") => fixed(mj::SHORTEN),
        MjKind::Submit("blend") => fixed(mj::BLEND),
        MjKind::Submit("upload-discord-images") => fixed(mj::UPLOAD),
        MjKind::Submit("action") => {
            let (action, _) = mj::plus_action(&text("customId")).map_err(MjError::request)?;
            Submission {
                action: action.into(),
                origin,
                prompt: String::new(),
            }
        }
        MjKind::Submit("video") => Submission {
            action: mj::VIDEO.into(),
            origin,
            prompt: text("prompt"),
        },
        MjKind::Submit("change") => {
            if task_id.is_empty() {
                return Err(MjError::request("task_id_is_required"));
            }
            let action = text("action").to_ascii_uppercase();
            if action.is_empty() {
                return Err(MjError::request("action_is_required"));
            }
            if request.get("index").and_then(Value::as_i64).unwrap_or(0) == 0 {
                return Err(MjError::request("index_is_required"));
            }
            Submission {
                action,
                origin,
                prompt: String::new(),
            }
        }
        MjKind::Submit("simple-change") => {
            let content = request.get("content").and_then(Value::as_str).unwrap_or("");
            if content.is_empty() {
                return Err(MjError::request("content_is_required"));
            }
            let (task_id, action, _) = mj::simple_change(content)
                .ok_or_else(|| MjError::request("content_parse_failed"))?;
            Submission {
                action: action.into(),
                origin: Some(task_id),
                prompt: String::new(),
            }
        }
        MjKind::Submit("modal") => {
            if task_id.is_empty() {
                return Err(MjError::request("task_id_is_required"));
            }
            Submission {
                action: mj::MODAL.into(),
                origin,
                prompt: String::new(),
            }
        }
        _ => return Err(MjError::request("unknown_relay_action")),
    })
}

/// The body sent upstream: the client's, without `accountFilter` unless enabled, and without
/// mode flags in the prompt when `MjModeClearEnabled`. With `MjNotifyEnabled` the client's
/// `notifyHook` is passed (as new-api passes it), and a submission without one gets Pylon's
/// `/mj/notify`, so that the upstream's callbacks move the task on before the next poll;
/// without it no hook goes upstream.
fn upstream_body(mut request: Map<String, Value>, settings: &Settings) -> Bytes {
    if !settings.account_filter {
        request.remove("accountFilter");
    }
    if settings.notify {
        let named = request
            .get("notifyHook")
            .and_then(Value::as_str)
            .is_some_and(|hook| !hook.trim().is_empty());
        if !named && let Some(hook) = settings.notify_hook() {
            request.insert("notifyHook".into(), Value::String(hook));
        }
    } else {
        request.remove("notifyHook");
    }
    if settings.mode_clear
        && let Some(Value::String(prompt)) = request.get_mut("prompt")
    {
        *prompt = prompt
            .replace("--fast", "")
            .replace("--relax", "")
            .replace("--turbo", "");
    }
    Bytes::from(Value::Object(request).to_string())
}

/// The upstream's answer with `"code":from` rewritten to `"code":1`, as new-api rewrites it.
fn rewrite_code(body: &[u8], from: i64) -> Bytes {
    let text = String::from_utf8_lossy(body)
        .replace(&format!("\"code\":{from}"), "\"code\":1")
        .replace(&format!("\"code\": {from}"), "\"code\": 1");
    Bytes::from(text)
}

impl Relay {
    /// Submits a Midjourney task for `caller`; answers the upstream's status and body.
    pub(super) async fn mj_submit(
        &self,
        session: &mut Session,
        caller: &Caller,
        route: &MjRoute,
        client_ip: Option<IpAddr>,
        summary: &mut RelaySummary,
    ) -> Result<(u16, Bytes), MjError> {
        let started = Instant::now();
        let body = read_body(session, self.config.max_body_bytes).await?;
        let request: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|_| MjError::request("bind_request_body_failed"))?;
        let mut submission = read_submission(&route.kind, &request)?;
        let settings = self.mj_settings();
        let model = mj::model_name(&submission.action);
        summary.model.clone_from(&model);
        let group = self.may_use(caller, &model)?;
        let base_price = self.base_price(&model, &group)?;
        if !matches!(base_price, Price::PerRequest { .. }) {
            return Err(MjError::request(format!(
                "The model `{model}` has no per-request price (ModelPrice) configured"
            )));
        }
        // A follow-up goes to the channel of the task it acts on.
        let origin_target = match submission.origin.clone() {
            Some(origin) => Some(
                self.origin_target(caller, &origin, &route.kind, &settings, &mut submission)
                    .await?,
            ),
            None => None,
        };
        let routes = self.snapshot.routes.load();
        let resolved = if origin_target.is_none() {
            Some(routing::Route::resolve(
                &routes,
                &caller.token,
                &group,
                &model,
            )?)
        } else {
            None
        };
        let dearest = resolved
            .as_ref()
            .map_or(pylon_shared::pricing::Multiplier::ONE, |r| {
                r.dearest(&group, &model)
            });
        let charged = mj::charged(&submission.action);
        let hold = if charged {
            per_request(&base_price.with_multiplier(dearest))
        } else {
            0
        };
        self.within_rate_limits(caller, &model, &group).await?;
        if self.settler.saturated() {
            self.metrics.settlement("backpressure", 1);
            return Err(super::super::errors::RelayError::billing_behind().into());
        }
        let charged_token = (!caller.token.unlimited).then_some(caller.token.id);
        let reservation = admission::reserve(
            &self.ledger,
            caller,
            charged_token,
            Bounds {
                floor: hold,
                ceiling: hold,
            },
        )
        .await?;
        let mut guard = ReservationGuard::new(&self.ledger, reservation);
        let outgoing = upstream_body(request, &settings);
        let query = session
            .req_header()
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let content_type = session
            .req_header()
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_string();

        let mut tried: Vec<i64> = Vec::new();
        let mut last = MjError::coded(UNKNOWN_ERROR, "no channel is available for this model");
        let mut origin_target = origin_target;
        loop {
            let (target, multiplier, served) = if let Some(target) = origin_target.take() {
                (target, pylon_shared::pricing::Multiplier::ONE, None)
            } else if let Some(resolved) = &resolved {
                if tried.len() > self.config.max_retries {
                    break;
                }
                let Some(routing::Pick { channel, served }) =
                    resolved.next(&group, &model, &tried, &self.health, None)
                else {
                    break;
                };
                tried.push(channel.id);
                if !mj::is_midjourney_channel(channel.type_number) {
                    continue;
                }
                let Some(key) = channel.pick_key() else {
                    self.health.failure(channel.id);
                    continue;
                };
                (
                    Target {
                        channel_id: channel.id,
                        base_url: mj::base_url(&channel.base_url),
                        key: key.to_string(),
                        header_override: channel.header_override.clone(),
                    },
                    served.total(),
                    Some(served),
                )
            } else {
                break;
            };
            if !tried.contains(&target.channel_id) {
                tried.push(target.channel_id);
            }
            summary.channel_id = target.channel_id;
            let url = format!("{}{}{query}", target.base_url, route.upstream_path);
            let mut request = self
                .tasks_http
                .post(&url)
                .timeout(UPSTREAM_TIMEOUT)
                .header("content-type", content_type.as_str())
                .header("mj-api-secret", target.key.as_str())
                .body(outgoing.clone());
            if let Some(accept) = session.req_header().headers.get("accept") {
                request = request.header("accept", accept.as_bytes());
            }
            for (name, value) in &target.header_override {
                request = request.header(name.as_str(), value.as_str());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    tracing::info!(channel = target.channel_id, %error, "a Midjourney channel could not be reached");
                    self.health.failure(target.channel_id);
                    self.metrics.retry(target.channel_id);
                    last = MjError::coded(UNKNOWN_ERROR, "do_request_failed");
                    continue;
                }
            };
            let status = response.status().as_u16();
            if status >= 500 && resolved.is_some() {
                self.health.failure(target.channel_id);
                self.metrics.retry(target.channel_id);
                last = MjError::coded(UNKNOWN_ERROR, format!("bad_response_status_code {status}"));
                continue;
            }
            self.health.success(target.channel_id);
            let answer = read_answer(response).await?;
            if answer.is_empty() {
                last = MjError::coded(UNKNOWN_ERROR, "empty_response_body");
                break;
            }
            let Some(parsed) = serde_json::from_slice::<Value>(&answer)
                .ok()
                .filter(Value::is_object)
            else {
                last = MjError::coded(UNKNOWN_ERROR, "unmarshal_response_body_failed");
                break;
            };
            let price = base_price.with_multiplier(multiplier);
            return self
                .mj_answered(
                    caller,
                    &submission,
                    &model,
                    &group,
                    &target,
                    (status, &answer, &parsed),
                    (charged, per_request(&price), &price, served.as_ref()),
                    (&tried, started, client_ip),
                    &mut guard,
                    reservation,
                )
                .await;
        }
        let record = Submitted {
            caller,
            model: &model,
            group: &group,
            started,
            client_ip,
        }
        .record(&tried, (LOG_TYPE_ERROR, 0, 502), last.description.clone());
        self.finish(&mut guard, caller, record, reservation).await;
        Err(last)
    }

    /// The channel and key of the caller's task `origin` (for a follow-up action), and the
    /// task's prompt for the new one.
    async fn origin_target(
        &self,
        caller: &Caller,
        origin: &str,
        kind: &MjKind,
        settings: &Settings,
        submission: &mut Submission,
    ) -> Result<Target, MjError> {
        let task = self
            .db
            .user_midjourney(caller.user.id, origin)
            .await
            .map_err(db_failed)?
            .ok_or_else(|| MjError::request("task_not_found"))?;
        if settings.check_success && task.status != TASK_SUCCESS && *kind != MjKind::Submit("modal")
        {
            return Err(MjError::request("task_status_not_success"));
        }
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
        submission.prompt = task.prompt;
        Ok(Target {
            channel_id: channel.id,
            base_url: mj::base_url(&channel.base_url),
            key: key.to_string(),
            header_override: Vec::new(),
        })
    }

    /// Records an answered submission, charges it when accepted, and answers the client.
    #[expect(
        clippy::too_many_arguments,
        reason = "the submission's parts, gathered by the caller"
    )]
    async fn mj_answered(
        &self,
        caller: &Caller,
        submission: &Submission,
        model: &str,
        group: &str,
        target: &Target,
        (status, answer, parsed): (u16, &Bytes, &Value),
        (charged, quota, price, served): (bool, i64, &Price, Option<&routing::Served>),
        (tried, started, client_ip): (&[i64], Instant, Option<IpAddr>),
        guard: &mut ReservationGuard<'_>,
        reservation: super::super::billing::Reservation,
    ) -> Result<(u16, Bytes), MjError> {
        let submitted = Submitted {
            caller,
            model,
            group,
            started,
            client_ip,
        };
        let code = parsed.get("code").and_then(Value::as_i64).unwrap_or(0);
        let description = parsed
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mj_id = match parsed.get("result") {
            Some(Value::String(id)) => id.clone(),
            _ => String::new(),
        };
        let swap = submission.action == mj::SWAP_FACE;
        // A task without an id cannot be followed (an upload has none to follow): not charged.
        let accepted = status == 200
            && if swap {
                code == 1
            } else {
                matches!(code, 1 | 21 | 22)
            }
            && (!mj_id.is_empty() || submission.action == mj::UPLOAD);
        let charge = if accepted && charged { quota } else { 0 };
        let now = now_ms();
        let mut task = MidjourneyRow {
            code,
            user_id: caller.user.id,
            username: caller.user.username.clone(),
            token_id: caller.token.id,
            charged_token: i64::from(!caller.token.unlimited),
            subscription_id: reservation.subscription_id().unwrap_or(0),
            task_group: group.to_string(),
            action: submission.action.clone(),
            mj_id: mj_id.clone(),
            model: model.to_string(),
            prompt: submission.prompt.clone(),
            description: description.clone(),
            submit_time: now,
            start_time: if swap { now } else { 0 },
            progress: "0%".into(),
            channel_id: target.channel_id,
            key_fingerprint: upstream_keys::fingerprint(&target.key),
            quota: charge,
            ..MidjourneyRow::default()
        };
        let mut body = answer.clone();
        if !accepted {
            task.fail_reason = if status == 200 && matches!(code, 1 | 21 | 22) {
                "the upstream gave the task no id".to_string()
            } else {
                description.clone()
            };
            task.status = TASK_FAILURE.into();
            task.progress = "100%".into();
        }
        if accepted && code == 21 {
            let properties = parsed.get("properties");
            let text = |name: &str| {
                properties
                    .and_then(|p| p.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if let (Some(image_url), Some(state)) = (text("imageUrl"), text("status")) {
                task.image_url = image_url;
                if state == TASK_SUCCESS {
                    task.progress = "100%".into();
                    task.start_time = now;
                    task.finish_time = now;
                    task.code = 1;
                }
                task.status = state;
            }
            if charged {
                body = rewrite_code(&body, 21);
            }
        }
        if accepted && code == 1 && submission.action == mj::UPLOAD {
            task.progress = "100%".into();
            task.status = TASK_SUCCESS.into();
        }
        if let Err(error) = self.db.insert_midjourney(&task).await {
            tracing::error!(%error, channel = target.channel_id, "recording a Midjourney task failed");
            let record = submitted.record(
                tried,
                (LOG_TYPE_ERROR, 0, 500),
                format!("the upstream answered but recording the task failed: {error}"),
            );
            self.finish(guard, caller, record, reservation).await;
            return Err(MjError::request("insert_midjourney_task_failed"));
        }
        if accepted && code == 22 {
            body = rewrite_code(&body, 22);
        }
        let mut record = if accepted {
            let mut record = submitted.record(
                tried,
                (LOG_TYPE_CONSUME, charge, i64::from(status)),
                String::new(),
            );
            record.content = match price {
                Price::PerRequest {
                    model_price,
                    group_ratio,
                    ..
                } => format!(
                    "Model price {model_price:.2}, group ratio {group_ratio:.2}, action {}, ID {mj_id}",
                    submission.action
                ),
                Price::PerToken { .. } => String::new(),
            };
            record
        } else {
            submitted.record(
                tried,
                (LOG_TYPE_ERROR, 0, i64::from(status)),
                format!("the upstream refused the task (code {code}): {description}"),
            )
        };
        let mut other = Map::new();
        other.insert("mj_id".into(), json!(mj_id));
        other.insert("action".into(), json!(submission.action));
        if let Price::PerRequest {
            model_price,
            group_ratio,
            ..
        } = price
        {
            other.insert("model_price".into(), json!(model_price));
            other.insert("group_ratio".into(), json!(group_ratio));
        }
        if let Some(served) = served {
            served.describe(&mut other);
        }
        record.other = Value::Object(other).to_string();
        self.finish(guard, caller, record, reservation).await;
        Ok((status, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_are_read_as_new_api_reads_them() {
        let body = |v: Value| v.as_object().cloned().expect("object");
        let imagine = read_submission(&MjKind::Submit("imagine"), &body(json!({"prompt": "cat"})))
            .expect("imagine");
        assert_eq!(imagine.action, mj::IMAGINE);
        assert!(read_submission(&MjKind::Submit("imagine"), &body(json!({}))).is_err());
        let change = read_submission(
            &MjKind::Submit("change"),
            &body(json!({"taskId": "1", "action": "UPSCALE", "index": 2})),
        )
        .expect("change");
        assert_eq!(
            (change.action.as_str(), change.origin.as_deref()),
            (mj::UPSCALE, Some("1"))
        );
        assert!(read_submission(&MjKind::Submit("change"), &body(json!({"taskId": "1"}))).is_err());
        let simple = read_submission(
            &MjKind::Submit("simple-change"),
            &body(json!({"content": "7 V2"})),
        )
        .expect("simple");
        assert_eq!(
            (simple.action.as_str(), simple.origin.as_deref()),
            (mj::VARIATION, Some("7"))
        );
        let settings = Settings::from_options([("MjModeClearEnabled", "true")]);
        let sent = upstream_body(
            body(json!({"prompt": "cat --fast", "notifyHook": "x", "accountFilter": {}})),
            &settings,
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&sent).expect("json"),
            json!({"prompt": "cat "})
        );
        let notify = Settings::from_options([
            ("MjNotifyEnabled", "true"),
            ("ServerAddress", "https://pylon.example/"),
        ]);
        let hooked = |request: Value| {
            serde_json::from_slice::<Value>(&upstream_body(body(request), &notify))
                .expect("json")["notifyHook"]
                .clone()
        };
        assert_eq!(
            hooked(json!({"prompt": "cat"})),
            json!("https://pylon.example/mj/notify")
        );
        assert_eq!(
            hooked(json!({"prompt": "cat", "notifyHook": "https://client.example/cb"})),
            json!("https://client.example/cb")
        );
        assert_eq!(
            rewrite_code(br#"{"code":22,"result":"1"}"#, 22),
            Bytes::from_static(br#"{"code":1,"result":"1"}"#)
        );
    }
}
