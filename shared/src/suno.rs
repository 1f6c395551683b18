//! Suno's music tasks as new-api relays them (its `suno` task adaptor), in pure code: the
//! submit request of an action (`MUSIC`, `LYRICS`) as new-api reads, checks and re-sends it,
//! the model an action is priced as (`suno_music`, `suno_lyrics`: new-api's `ModelPrice`
//! names), and the upstream's answers: `{code, message, data}` with the task id on submit, and
//! a list of tasks (new-api's `SunoDataResponse`) from its batch `POST /suno/fetch`. The proxy
//! relays, the control plane's poller asks about unfinished tasks; both use this.

use crate::db::{
    TASK_FAILURE, TASK_IN_PROGRESS, TASK_NOT_START, TASK_QUEUED, TASK_SUBMITTED, TASK_SUCCESS,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// new-api's task platform of Suno tasks (the `platform` column).
pub const PLATFORM: &str = "suno";
/// new-api's channel type of Suno upstreams.
pub const CHANNEL_TYPE: i64 = 36;
/// The action that makes a song.
pub const ACTION_MUSIC: &str = "MUSIC";
/// The action that writes lyrics.
pub const ACTION_LYRICS: &str = "LYRICS";
/// new-api's answer code of a success.
pub const SUCCESS_CODE: &str = "success";
/// The most ids one `POST /suno/fetch` may name.
pub const MAX_FETCH_IDS: usize = 1000;
/// The mv new-api fills in for a song that names none.
const DEFAULT_MV: &str = "chirp-v3-0";
/// The stored prompt is cut to this many characters (it is only shown in the task lists).
const MAX_STORED_PROMPT_CHARS: usize = 4000;
/// An upstream's failure reason is cut to this many characters.
const MAX_REASON_CHARS: usize = 1000;
/// The most of an upstream's task data kept with a task (its column is a 64 KiB `TEXT`).
const MAX_STORED_DATA_BYTES: usize = 60_000;

/// new-api's `SunoSubmitReq`: what a submit may carry, and all that is sent upstream (new-api
/// re-encodes the request from these fields, so others are dropped).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubmitRequest {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gpt_description_prompt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prompt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mv: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub continue_at: f64,
    /// The task a continuation extends (Pylon's id from the client; the upstream's id when
    /// sent upstream).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub task_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub continue_clip_id: String,
    pub make_instrumental: bool,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

/// A submit refused before anything is charged: new-api's task error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: "invalid_request",
            message: message.into(),
        }
    }
}

/// A checked submit: new-api's action (upper case) and the request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Submit {
    pub action: &'static str,
    pub request: SubmitRequest,
}

impl Submit {
    /// Reads the submit of the path's `action` (any case) with body `body`, as new-api's
    /// `ValidateRequestAndSetAction` does: a JSON object of [`SubmitRequest`]'s fields, a song's
    /// `mv` defaulting to `chirp-v3-0`, lyrics needing a prompt, a continuation
    /// (`continue_clip_id`) naming the task it extends (`task_id`).
    pub fn parse(action: &str, body: &[u8]) -> Result<Self, Refusal> {
        let mut request: SubmitRequest =
            serde_json::from_slice(body).map_err(|e| Refusal::invalid(e.to_string()))?;
        let action = match action.to_ascii_uppercase().as_str() {
            ACTION_MUSIC => ACTION_MUSIC,
            ACTION_LYRICS => ACTION_LYRICS,
            _ => return Err(Refusal::invalid("invalid_action")),
        };
        match action {
            ACTION_MUSIC if request.mv.is_empty() => request.mv = DEFAULT_MV.to_string(),
            ACTION_LYRICS if request.prompt.is_empty() => {
                return Err(Refusal::invalid("prompt_empty"));
            }
            _ => {}
        }
        if !request.continue_clip_id.is_empty() && request.task_id.trim().is_empty() {
            return Err(Refusal::invalid("task id is empty"));
        }
        Ok(Self { action, request })
    }

    /// The model the action is priced and routed as (new-api's `suno_music`, `suno_lyrics`).
    pub fn model(&self) -> String {
        model_of_action(self.action)
    }

    /// The task this submit continues (Pylon's id), if it is a continuation.
    pub fn origin(&self) -> Option<&str> {
        (!self.request.continue_clip_id.is_empty()).then(|| self.request.task_id.trim())
    }

    /// The prompt as stored with the task.
    pub fn stored_prompt(&self) -> String {
        let prompt = if self.request.prompt.is_empty() {
            &self.request.gpt_description_prompt
        } else {
            &self.request.prompt
        };
        prompt.chars().take(MAX_STORED_PROMPT_CHARS).collect()
    }
}

/// new-api's model name of a Suno action: `suno_` and the action in lower case.
pub fn model_of_action(action: &str) -> String {
    format!("{PLATFORM}_{}", action.to_ascii_lowercase())
}

/// The upstream's answer to a submit (new-api's `TaskResponse[string]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitAnswer {
    /// Accepted: the upstream's task id and its message.
    Accepted {
        upstream_id: String,
        message: String,
    },
    /// An answer whose code is not `success`: its code and message.
    Refused { code: String, message: String },
}

/// Reads the upstream's answer to a submit; `Err` says why it cannot be read.
pub fn submit_answer(body: &[u8]) -> Result<SubmitAnswer, String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        code: Value,
        #[serde(default)]
        message: String,
        #[serde(default)]
        data: Value,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "{e}; response body: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(300)
                .collect::<String>()
        )
    })?;
    let code = match &answer.code {
        Value::String(code) => code.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if code != SUCCESS_CODE {
        return Ok(SubmitAnswer::Refused {
            code,
            message: answer.message,
        });
    }
    match answer.data.as_str().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(SubmitAnswer::Accepted {
            upstream_id: id.to_string(),
            message: answer.message,
        }),
        _ => Err("the upstream accepted the task without a task id".into()),
    }
}

/// One task of the upstream's batch fetch answer (new-api's `SunoDataResponse`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct FetchedTask {
    pub task_id: String,
    pub status: String,
    pub fail_reason: String,
    pub submit_time: i64,
    pub start_time: i64,
    pub finish_time: i64,
    pub data: Value,
}

impl FetchedTask {
    /// The task's status in new-api's terms (None: one Pylon does not know, left as it is).
    pub fn status(&self) -> Option<&'static str> {
        status_of(&self.status)
    }

    /// Why it failed.
    pub fn reason(&self) -> String {
        let reason = self.fail_reason.trim();
        let reason = if reason.is_empty() {
            "task failed"
        } else {
            reason
        };
        reason.chars().take(MAX_REASON_CHARS).collect()
    }
}

/// Reads the upstream's answer to `POST /suno/fetch` (`{code, message, data: [...]}`).
pub fn fetch_answer(body: &[u8]) -> Result<Vec<FetchedTask>, String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        code: Value,
        #[serde(default)]
        message: String,
        #[serde(default)]
        data: Option<Vec<FetchedTask>>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if answer.code.as_str() != Some(SUCCESS_CODE) {
        return Err(format!(
            "the upstream answered {}: {}",
            answer.code, answer.message
        ));
    }
    Ok(answer.data.unwrap_or_default())
}

/// new-api's status of a Suno upstream's (its own statuses, in any case).
pub fn status_of(status: &str) -> Option<&'static str> {
    Some(match status.trim().to_ascii_uppercase().as_str() {
        "NOT_START" => TASK_NOT_START,
        "SUBMITTED" => TASK_SUBMITTED,
        "QUEUED" => TASK_QUEUED,
        "IN_PROGRESS" => TASK_IN_PROGRESS,
        "SUCCESS" => TASK_SUCCESS,
        "FAILURE" => TASK_FAILURE,
        _ => return None,
    })
}

/// The upstream's task data as stored: whole, or, when too large for the row, each clip's
/// identifying fields and URLs only.
pub fn stored_data(data: &Value) -> String {
    if data.is_null() {
        return String::new();
    }
    let whole = data.to_string();
    if whole.len() <= MAX_STORED_DATA_BYTES {
        return whole;
    }
    let keep = |clip: &Value| -> Value {
        let kept: Map<String, Value> = [
            "id",
            "status",
            "title",
            "audio_url",
            "video_url",
            "image_url",
            "image_large_url",
            "model_name",
        ]
        .iter()
        .filter_map(|name| Some((name.to_string(), clip.get(*name)?.clone())))
        .filter(|(_, value)| value.to_string().len() < 2048)
        .collect();
        Value::Object(kept)
    };
    let reduced = match data {
        Value::Array(clips) => Value::Array(clips.iter().map(keep).collect()),
        other => keep(other),
    };
    let reduced = reduced.to_string();
    if reduced.len() <= MAX_STORED_DATA_BYTES {
        reduced
    } else {
        String::new()
    }
}

/// The base URL a Suno channel's requests go to (without a trailing `/`).
pub fn base_url(configured: &str) -> String {
    configured.trim().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn submits_are_read_as_new_api_reads_them() {
        let music = Submit::parse("music", br#"{"prompt":"a song","extra":1}"#).expect("valid");
        assert_eq!(music.action, ACTION_MUSIC);
        assert_eq!(music.model(), "suno_music");
        let sent = serde_json::to_value(&music.request).expect("json");
        assert_eq!(
            sent,
            json!({"prompt": "a song", "mv": "chirp-v3-0", "make_instrumental": false})
        );
        let lyrics = Submit::parse("LYRICS", br#"{"prompt":"rain"}"#).expect("valid");
        assert_eq!(lyrics.model(), "suno_lyrics");
        assert_eq!(
            Submit::parse("lyrics", b"{}").unwrap_err().message,
            "prompt_empty"
        );
        assert_eq!(
            Submit::parse("dance", b"{}").unwrap_err().message,
            "invalid_action"
        );
        assert!(Submit::parse("music", b"not json").is_err());
        assert!(Submit::parse("music", br#"{"prompt": 5}"#).is_err());
        assert_eq!(
            Submit::parse("music", br#"{"continue_clip_id":"c"}"#)
                .unwrap_err()
                .message,
            "task id is empty"
        );
        let more = Submit::parse(
            "music",
            br#"{"continue_clip_id":"c","task_id":"task_1","continue_at":30}"#,
        )
        .expect("valid");
        assert_eq!(more.origin(), Some("task_1"));
    }

    #[test]
    fn upstream_answers_are_read() {
        assert_eq!(
            submit_answer(br#"{"code":"success","message":"","data":"up_1"}"#),
            Ok(SubmitAnswer::Accepted {
                upstream_id: "up_1".into(),
                message: String::new()
            })
        );
        assert_eq!(
            submit_answer(br#"{"code":"error","message":"no credits","data":null}"#),
            Ok(SubmitAnswer::Refused {
                code: "error".into(),
                message: "no credits".into()
            })
        );
        assert!(submit_answer(br#"{"code":"success","data":""}"#).is_err());
        assert!(submit_answer(b"<html>").is_err());
        let tasks = fetch_answer(
            br#"{"code":"success","data":[{"task_id":"up_1","status":"SUCCESS","data":[{"id":"c"}]}]}"#,
        )
        .expect("read");
        assert_eq!(tasks[0].status(), Some(TASK_SUCCESS));
        assert_eq!(tasks[0].data, json!([{"id": "c"}]));
        assert!(fetch_answer(br#"{"code":"fail","message":"x"}"#).is_err());
        assert_eq!(status_of("in_progress"), Some(TASK_IN_PROGRESS));
        assert_eq!(status_of("weird"), None);
    }

    #[test]
    fn oversized_data_keeps_the_clips_urls() {
        let small = json!([{"id": "c", "audio_url": "u"}]);
        assert_eq!(stored_data(&small), small.to_string());
        assert_eq!(stored_data(&Value::Null), "");
        let large = json!([{"id": "c", "audio_url": "u", "lyrics": "x".repeat(70_000)}]);
        let kept: Value = serde_json::from_str(&stored_data(&large)).expect("json");
        assert_eq!(kept, json!([{"id": "c", "audio_url": "u"}]));
    }
}
