//! OpenAI's video generation API (`/v1/videos`) as new-api relays it (its `sora` task
//! adaptor), in pure code: the create request's fields, its price (new-api's `ModelPrice` times
//! the seconds and a size ratio), the upstream's task status in new-api's terms, and the video
//! object a client reads back from Pylon's task row. The proxy relays, the control plane polls;
//! both use this.

use crate::db::{
    TASK_FAILURE, TASK_IN_PROGRESS, TASK_NOT_START, TASK_QUEUED, TASK_SUBMITTED, TASK_SUCCESS,
    TaskRow,
};
use serde_json::{Map, Value, json};

/// new-api's action of a video made from the prompt alone.
pub const ACTION_TEXT_GENERATE: &str = "textGenerate";
/// new-api's action of a video made with an input reference (an image).
pub const ACTION_GENERATE: &str = "generate";
/// new-api's action of a remix of an earlier video (`POST /v1/videos/{id}/remix`).
pub const ACTION_REMIX: &str = "remixGenerate";
/// The video length new-api bills when the request names none.
pub const DEFAULT_SECONDS: i64 = 4;
/// The longest video new-api bills (`MaxTaskDurationSeconds`); longer requests are refused.
pub const MAX_SECONDS: i64 = 600;
/// An upstream's failure reason is cut to this many characters.
const MAX_REASON_CHARS: usize = 1000;
/// The stored prompt is cut to this many characters (it is only shown in the task lists).
const MAX_STORED_PROMPT_CHARS: usize = 4000;

/// The fields of a create request that Pylon reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoRequest {
    pub model: String,
    pub prompt: String,
    /// The video length billed (the request's `seconds`, else [`DEFAULT_SECONDS`]).
    pub seconds: i64,
    /// The request's `size`, if any.
    pub size: Option<String>,
    /// The request carries an `input_reference`.
    pub input_reference: bool,
}

impl VideoRequest {
    /// Reads the fields a form or a JSON body gave (`seconds` as text or number); says what is
    /// wrong, in the words a client reads, when a field is missing or malformed.
    pub fn from_fields(
        model: Option<String>,
        prompt: Option<String>,
        seconds: Option<String>,
        size: Option<String>,
        input_reference: bool,
    ) -> Result<Self, String> {
        let model = model
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .ok_or("model field is required")?;
        let prompt = prompt
            .filter(|p| !p.trim().is_empty())
            .ok_or("prompt field is required")?;
        let seconds = match seconds.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_SECONDS,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if (1..=MAX_SECONDS).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "seconds must be a whole number from 1 to {MAX_SECONDS}"
                    ));
                }
            },
        };
        let size = size.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(size) = &size
            && !is_size(size)
        {
            return Err(format!("size must be WIDTHxHEIGHT, got {size:?}"));
        }
        Ok(Self {
            model,
            prompt,
            seconds,
            size,
            input_reference,
        })
    }

    /// Reads a JSON create request.
    pub fn from_json(body: &[u8]) -> Result<Self, String> {
        let value: Map<String, Value> =
            serde_json::from_slice(body).map_err(|e| format!("Invalid JSON body: {e}"))?;
        let text = |name: &str| -> Result<Option<String>, String> {
            match value.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) if name == "seconds" => Ok(Some(n.to_string())),
                Some(_) => Err(format!("The field {name} must be a string")),
            }
        };
        let input_reference = !matches!(value.get("input_reference"), None | Some(Value::Null));
        Self::from_fields(
            text("model")?,
            text("prompt")?,
            text("seconds")?,
            text("size")?,
            input_reference,
        )
    }

    /// new-api's action for the request.
    pub fn action(&self) -> &'static str {
        if self.input_reference {
            ACTION_GENERATE
        } else {
            ACTION_TEXT_GENERATE
        }
    }

    /// What the request costs at `per_request` quota (the model's `ModelPrice` with the
    /// group's ratio and the channel's multiplier applied): new-api's sora billing, times the
    /// seconds, and 5/3 (new-api's 1.666667) for the large sizes 1792x1024 and 1024x1792.
    /// Integers throughout, rounded half up; saturates instead of overflowing.
    pub fn quota(&self, per_request: i64) -> i64 {
        let base = i128::from(per_request.max(0)) * i128::from(self.seconds);
        let large = matches!(self.size.as_deref(), Some("1792x1024" | "1024x1792"));
        let quota = if large {
            (base * 1_666_667 + 500_000) / 1_000_000
        } else {
            base
        };
        i64::try_from(quota).unwrap_or(i64::MAX)
    }

    /// The prompt as stored with the task.
    pub fn stored_prompt(&self) -> String {
        self.prompt.chars().take(MAX_STORED_PROMPT_CHARS).collect()
    }
}

/// The request a remix of `origin` is billed as, as new-api bills it: the origin's model, and
/// its seconds (4 when it has none, at most [`MAX_SECONDS`]) and size from the origin's data.
pub fn remix_request(origin: &TaskRow, prompt: String) -> VideoRequest {
    let data = serde_json::from_str::<Value>(&origin.data).unwrap_or(Value::Null);
    let seconds = match data.get("seconds") {
        Some(Value::String(text)) => text.trim().parse::<i64>().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    };
    let seconds = if seconds <= 0 {
        DEFAULT_SECONDS
    } else {
        seconds.min(MAX_SECONDS)
    };
    VideoRequest {
        model: origin.model.clone(),
        prompt,
        seconds,
        size: data
            .get("size")
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty()),
        input_reference: false,
    }
}

/// new-api's `TaskDto` of `row` (its task lists and its task fetch routes): `channel_id` as
/// given (0 hides it), `username` when given, and a finished video's `result_url`, the relay's
/// stream of it under `server` (new-api's `ServerAddress`).
pub fn task_dto(row: &TaskRow, server: &str, channel_id: i64, username: Option<&str>) -> Value {
    let data = serde_json::from_str::<Value>(&row.data).unwrap_or(Value::Null);
    let mut dto = json!({
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "task_id": row.task_id,
        "platform": row.platform,
        "user_id": row.user_id,
        "group": row.task_group,
        "channel_id": channel_id,
        "quota": row.quota,
        "action": row.action,
        "status": row.status,
        "fail_reason": row.fail_reason,
        "submit_time": row.submit_time,
        "start_time": row.start_time,
        "finish_time": row.finish_time,
        "progress": row.progress,
        "properties": {
            "input": row.prompt,
            "upstream_model_name": row.upstream_model,
            "origin_model_name": row.model,
        },
        "data": data,
    });
    if row.status == TASK_SUCCESS && row.platform != crate::suno::PLATFORM {
        // new-api's proxy URL of the video: the relay streams it from the channel.
        dto["result_url"] = json!(format!(
            "{}/v1/videos/{}/content",
            server.trim_end_matches('/'),
            row.task_id
        ));
    }
    if let Some(username) = username.filter(|name| !name.is_empty()) {
        dto["username"] = json!(username);
    }
    dto
}

fn is_size(size: &str) -> bool {
    size.split_once('x').is_some_and(|(w, h)| {
        !w.is_empty()
            && !h.is_empty()
            && w.bytes().all(|b| b.is_ascii_digit())
            && h.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A new task id the client sees: `task_` and 32 letters and digits (new-api's form).
pub fn new_task_id() -> String {
    format!("task_{}", crate::crypto::random_alphanumeric(32))
}

/// The upstream's id in its answer to a create request (`id`, or an older `task_id`).
pub fn upstream_id(answer: &Value) -> Option<String> {
    ["id", "task_id"]
        .iter()
        .filter_map(|name| answer.get(*name)?.as_str())
        .map(str::trim)
        .find(|id| !id.is_empty())
        .map(str::to_string)
}

/// What the upstream said about a task, in new-api's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamState {
    /// new-api's status (`QUEUED`, `IN_PROGRESS`, `SUCCESS`, `FAILURE`); None: a status Pylon
    /// does not know (the task is left as it is).
    pub status: Option<&'static str>,
    /// `"n%"`, when the upstream gave a progress between 0 and 100.
    pub progress: Option<String>,
    /// Why it failed.
    pub reason: String,
}

/// Reads the upstream's video object (new-api's sora `ParseTaskResult`, with its synonyms).
pub fn upstream_state(answer: &Value) -> UpstreamState {
    let raw = answer
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let status = match raw.as_str() {
        "queued" | "pending" | "submitted" | "not_start" | "preparing" | "unknown"
        | "notstarted" | "created" | "starting" => Some(TASK_QUEUED),
        "processing" | "in_progress" | "running" | "generating" => Some(TASK_IN_PROGRESS),
        "completed" | "complete" | "success" | "succeeded" | "finished" => Some(TASK_SUCCESS),
        "failed" | "failure" | "fail" | "error" | "cancelled" | "canceled" => Some(TASK_FAILURE),
        _ => None,
    };
    let progress = answer
        .get("progress")
        .and_then(Value::as_f64)
        .filter(|p| *p > 0.0 && *p < 100.0)
        .map(|p| format!("{}%", p as i64));
    let reason = if status == Some(TASK_FAILURE) {
        answer
            .pointer("/error/message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or("task failed")
            .chars()
            .take(MAX_REASON_CHARS)
            .collect()
    } else {
        String::new()
    };
    UpstreamState {
        status,
        progress,
        reason,
    }
}

/// The most of an upstream's answer kept with a task (its column is a 64 KiB `TEXT`).
const MAX_STORED_DATA_BYTES: usize = 60_000;

/// An upstream's answer as stored with its task: whole, or, when it is too large for the row,
/// only the video object's own fields.
pub fn stored_data(answer: &Value) -> String {
    let whole = answer.to_string();
    if whole.len() <= MAX_STORED_DATA_BYTES {
        return whole;
    }
    let kept: Map<String, Value> = [
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "seconds",
        "size",
    ]
    .iter()
    .filter_map(|name| Some((name.to_string(), answer.get(*name)?.clone())))
    .filter(|(_, value)| value.to_string().len() < 1024)
    .collect();
    Value::Object(kept).to_string()
}

/// OpenAI's video status of a task's new-api status (a task just submitted is queued).
pub fn video_status(status: &str) -> &'static str {
    match status {
        TASK_IN_PROGRESS => "in_progress",
        TASK_SUCCESS => "completed",
        TASK_FAILURE => "failed",
        TASK_NOT_START | TASK_SUBMITTED | TASK_QUEUED => "queued",
        _ => "queued",
    }
}

/// The progress as a number (`"40%"` -> 40).
pub fn progress_number(progress: &str) -> i64 {
    progress
        .trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .map_or(0, |p| p.clamp(0.0, 100.0) as i64)
}

/// The video object a client reads for `task`: the upstream's last answer, with Pylon's id,
/// the model the client asked for and the status, progress and times of Pylon's row.
pub fn video_object(task: &TaskRow) -> Value {
    let mut object = match serde_json::from_str::<Value>(&task.data) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    object.remove("task_id");
    let status = video_status(&task.status);
    let progress = if task.status == TASK_SUCCESS {
        100
    } else {
        progress_number(&task.progress)
    };
    object.insert("id".into(), json!(task.task_id));
    object.insert("object".into(), json!("video"));
    object.insert("model".into(), json!(task.model));
    object.insert("status".into(), json!(status));
    object.insert("progress".into(), json!(progress));
    object.insert("created_at".into(), json!(task.submit_time));
    let completed =
        (task.status == TASK_SUCCESS && task.finish_time > 0).then_some(task.finish_time);
    object.insert("completed_at".into(), json!(completed));
    let error = (task.status == TASK_FAILURE).then(|| {
        json!({
            "code": "task_failed",
            "message": if task.fail_reason.is_empty() { "task failed" } else { task.fail_reason.as_str() },
        })
    });
    object.insert("error".into(), json!(error));
    Value::Object(object)
}

/// The base URL a channel's video requests go to: its own (without a trailing `/` or `/v1`),
/// OpenAI's when empty.
pub fn base_url(configured: &str) -> String {
    let url = configured.trim().trim_end_matches('/');
    let url = if url.is_empty() {
        "https://api.openai.com"
    } else {
        url
    };
    url.strip_suffix("/v1").unwrap_or(url).to_string()
}

/// The key of a channel that created a task: the one whose fingerprint the task kept, else
/// (the key was removed) the channel's first.
pub fn channel_key<'a>(keys: &[&'a str], fingerprint: &str) -> Option<&'a str> {
    keys.iter()
        .copied()
        .find(|key| crate::upstream_keys::fingerprint(key) == fingerprint)
        .or_else(|| keys.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seconds: Option<&str>, size: Option<&str>) -> Result<VideoRequest, String> {
        VideoRequest::from_fields(
            Some("sora-2".into()),
            Some("a cat".into()),
            seconds.map(Into::into),
            size.map(Into::into),
            false,
        )
    }

    #[test]
    fn prices_follow_new_api_sora_billing() {
        let plain = request(Some("8"), Some("720x1280")).expect("valid");
        assert_eq!(plain.quota(50_000), 400_000);
        let large = request(Some("4"), Some("1792x1024")).expect("valid");
        // 50 000 * 4 * 1.666667 = 333 333.4
        assert_eq!(large.quota(50_000), 333_333);
        let default = request(None, None).expect("valid");
        assert_eq!(default.seconds, 4);
        assert_eq!(default.quota(10), 40);
        assert!(request(Some("0"), None).is_err());
        assert!(request(Some("601"), None).is_err());
        assert!(request(Some("4.5"), None).is_err());
        assert!(request(None, Some("big")).is_err());
    }

    #[test]
    fn json_requests_are_read() {
        let body = br#"{"model":"sora-2","prompt":"p","seconds":8,"input_reference":"data:x"}"#;
        let read = VideoRequest::from_json(body).expect("valid");
        assert_eq!(read.seconds, 8);
        assert_eq!(read.action(), ACTION_GENERATE);
        assert!(VideoRequest::from_json(br#"{"prompt":"p"}"#).is_err());
        assert!(VideoRequest::from_json(br#"{"model":"m"}"#).is_err());
        assert!(VideoRequest::from_json(br#"{"model":"m","prompt":5}"#).is_err());
        assert!(VideoRequest::from_json(b"nope").is_err());
    }

    #[test]
    fn upstream_statuses_map_to_new_api() {
        let state = upstream_state(&json!({"status": "in_progress", "progress": 40}));
        assert_eq!(state.status, Some(TASK_IN_PROGRESS));
        assert_eq!(state.progress.as_deref(), Some("40%"));
        let failed = upstream_state(&json!({"status": "failed", "error": {"message": "nsfw"}}));
        assert_eq!(failed.status, Some(TASK_FAILURE));
        assert_eq!(failed.reason, "nsfw");
        assert_eq!(
            upstream_state(&json!({"status": "completed"})).status,
            Some(TASK_SUCCESS)
        );
        assert_eq!(upstream_state(&json!({"status": "weird"})).status, None);
    }

    #[test]
    fn oversized_answers_keep_the_video_fields() {
        let small = json!({"id": "task_1", "extra": "x"});
        assert_eq!(stored_data(&small), small.to_string());
        let large = json!({"id": "task_1", "status": "queued", "extra": "x".repeat(70_000)});
        let kept: Value = serde_json::from_str(&stored_data(&large)).expect("json");
        assert_eq!(kept, json!({"id": "task_1", "status": "queued"}));
    }

    #[test]
    fn base_urls_drop_v1() {
        assert_eq!(base_url("http://h:1/v1/"), "http://h:1");
        assert_eq!(base_url(""), "https://api.openai.com");
        assert_eq!(progress_number("40%"), 40);
        assert_eq!(progress_number(""), 0);
    }
}
