//! new-api's Midjourney relay (midjourney-proxy), the parts the proxy and the control plane
//! share: actions and the model names they are billed as, the custom ids and simple-change
//! texts that name an action, the settings new-api reads, and the task's shapes (the relay's
//! `fetch` answer, the `/api/mj/*` list row, and what a poll's `list-by-condition` item
//! changes). Pure: no I/O.

use crate::db::{MidjourneyRow, MidjourneyUpdate};
use serde_json::{Value, json};

pub const IMAGINE: &str = "IMAGINE";
pub const DESCRIBE: &str = "DESCRIBE";
pub const BLEND: &str = "BLEND";
pub const UPSCALE: &str = "UPSCALE";
pub const VARIATION: &str = "VARIATION";
pub const REROLL: &str = "REROLL";
pub const INPAINT: &str = "INPAINT";
pub const MODAL: &str = "MODAL";
pub const ZOOM: &str = "ZOOM";
pub const CUSTOM_ZOOM: &str = "CUSTOM_ZOOM";
pub const SHORTEN: &str = "SHORTEN";
pub const HIGH_VARIATION: &str = "HIGH_VARIATION";
pub const LOW_VARIATION: &str = "LOW_VARIATION";
pub const PAN: &str = "PAN";
pub const SWAP_FACE: &str = "SWAP_FACE";
pub const UPLOAD: &str = "UPLOAD";
pub const VIDEO: &str = "VIDEO";
pub const EDITS: &str = "EDITS";

/// new-api's error codes of the Midjourney routes.
pub const REQUEST_ERROR: i64 = 4;
pub const UNKNOWN_ERROR: i64 = 5;

/// Channel types that speak midjourney-proxy: Midjourney Proxy (2), Midjourney Proxy Plus (5).
pub fn is_midjourney_channel(type_number: i64) -> bool {
    matches!(type_number, 2 | 5)
}

/// The model name an action is priced and routed as (new-api's `CovertMjpActionToModelName`).
pub fn model_name(action: &str) -> String {
    if action == SWAP_FACE {
        "swap_face".to_string()
    } else {
        format!("mj_{}", action.to_ascii_lowercase())
    }
}

/// Whether a successful submission of `action` is charged (new-api charges neither inpaint
/// nor custom zoom: they finish a modal the client pays for).
pub fn charged(action: &str) -> bool {
    action != INPAINT && action != CUSTOM_ZOOM
}

/// The action and index a Midjourney Plus `customId` names
/// (`MJ::JOB::upsample::2::<hash>`), or new-api's error description.
pub fn plus_action(custom_id: &str) -> Result<(&'static str, i64), String> {
    if custom_id.is_empty() {
        return Err("custom_id_is_required".into());
    }
    let parts: Vec<&str> = custom_id.split("::").collect();
    let action = match parts.get(1) {
        Some(&"JOB") => parts.get(2).copied().unwrap_or(""),
        Some(second) => second,
        None => "",
    };
    if action.is_empty() {
        return Err("unknown_action".into());
    }
    let index = || -> Result<i64, String> {
        parts
            .get(3)
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| "index_parse_failed".to_string())
    };
    Ok(if action.contains("upsample") {
        (UPSCALE, index()?)
    } else if action.contains("variation") {
        match action {
            "variation" => (VARIATION, index()?),
            "low_variation" => (LOW_VARIATION, 1),
            "high_variation" => (HIGH_VARIATION, 1),
            _ => return Err(format!("unknown_action:{custom_id}")),
        }
    } else if action.contains("pan") {
        (PAN, 1)
    } else if action.contains("reroll") {
        (REROLL, 1)
    } else if action == "Outpaint" {
        (ZOOM, 1)
    } else if action == "CustomZoom" {
        (CUSTOM_ZOOM, 1)
    } else if action == "Inpaint" {
        (INPAINT, 1)
    } else {
        return Err(format!("unknown_action:{custom_id}"));
    })
}

/// The task id, action and index of a simple-change text (`"<task id> U1"`, `V3`, `R`).
pub fn simple_change(content: &str) -> Option<(String, &'static str, i64)> {
    let parts: Vec<&str> = content.split(' ').collect();
    let [task_id, action] = parts.as_slice() else {
        return None;
    };
    let action = action.to_ascii_lowercase();
    let kind = match action.chars().next()? {
        'u' => UPSCALE,
        'v' => VARIATION,
        'r' if action == "r" => return Some(((*task_id).to_string(), REROLL, 0)),
        _ => return None,
    };
    let index: i64 = action.get(1..2)?.parse().ok()?;
    (1..=4)
        .contains(&index)
        .then(|| ((*task_id).to_string(), kind, index))
}

/// The options new-api's Midjourney relay reads (new-api's defaults when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Image URLs point at the relay's `/mj/image/{id}` (`MjForwardUrlEnabled`).
    pub forward_url: bool,
    /// A follow-up action needs its task finished (`MjActionCheckSuccessEnabled`).
    pub check_success: bool,
    /// `accountFilter` is passed upstream (`MjAccountFilterEnabled`).
    pub account_filter: bool,
    /// `notifyHook` is passed upstream, Pylon's own `/mj/notify` when the client names none,
    /// and `/mj/notify` takes callbacks (`MjNotifyEnabled`).
    pub notify: bool,
    /// `--fast`, `--relax` and `--turbo` are removed from prompts (`MjModeClearEnabled`).
    pub mode_clear: bool,
    /// `ServerAddress`, without a trailing slash.
    pub server_address: String,
}

impl Settings {
    /// The settings of stored options `(key, value)`.
    pub fn from_options<'a>(options: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut settings = Settings {
            forward_url: true,
            check_success: true,
            account_filter: false,
            notify: false,
            mode_clear: false,
            server_address: String::new(),
        };
        for (key, value) in options {
            let flag = value.trim() == "true";
            match key {
                "MjForwardUrlEnabled" => settings.forward_url = flag,
                "MjActionCheckSuccessEnabled" => settings.check_success = flag,
                "MjAccountFilterEnabled" => settings.account_filter = flag,
                "MjNotifyEnabled" => settings.notify = flag,
                "MjModeClearEnabled" => settings.mode_clear = flag,
                "ServerAddress" => {
                    settings.server_address = value.trim().trim_end_matches('/').to_string();
                }
                _ => {}
            }
        }
        settings
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::from_options([])
    }
}

impl Settings {
    /// The callback URL midjourney-proxy is given for a submission without its own: this
    /// Pylon's `/mj/notify` (None while notifications are off or `ServerAddress` is unset).
    pub fn notify_hook(&self) -> Option<String> {
        (self.notify && !self.server_address.is_empty())
            .then(|| format!("{}/mj/notify", self.server_address))
    }
}

/// A channel's midjourney-proxy base URL (no trailing slash).
pub fn base_url(configured: &str) -> String {
    configured.trim().trim_end_matches('/').to_string()
}

/// JSON text stored in a column, parsed (`Null` when empty or malformed).
fn stored(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The task as the relay's `GET /mj/task/{id}/fetch` answers it (new-api's `MidjourneyDto`):
/// with `forward_url`, the image is served by the relay's `/mj/image/{id}` (a `rand` query
/// while unfinished, so that clients do not cache a preview); `nonce` makes that query.
pub fn fetch_dto(task: &MidjourneyRow, settings: &Settings, nonce: u128) -> Value {
    let image_url = if !task.image_url.is_empty() && settings.forward_url {
        let mut url = format!("{}/mj/image/{}", settings.server_address, task.mj_id);
        if task.status != crate::db::TASK_SUCCESS {
            url.push_str(&format!("?rand={nonce}"));
        }
        url
    } else {
        task.image_url.clone()
    };
    let buttons = match stored(&task.buttons) {
        Value::Array(buttons) => Value::Array(buttons),
        _ => Value::Null,
    };
    let video_urls = match stored(&task.video_urls) {
        Value::Array(urls) => Value::Array(urls),
        _ => Value::Null,
    };
    let properties = match stored(&task.properties) {
        Value::Object(object) => json!({
            "finalPrompt": object.get("finalPrompt").and_then(Value::as_str).unwrap_or(""),
            "finalZhPrompt": object.get("finalZhPrompt").and_then(Value::as_str).unwrap_or(""),
        }),
        _ => Value::Null,
    };
    json!({
        "id": task.mj_id,
        "action": task.action,
        "customId": "",
        "botType": "",
        "prompt": task.prompt,
        "promptEn": task.prompt_en,
        "description": task.description,
        "state": task.state,
        "submitTime": task.submit_time,
        "startTime": task.start_time,
        "finishTime": task.finish_time,
        "imageUrl": image_url,
        "videoUrl": task.video_url,
        "videoUrls": video_urls,
        "status": task.status,
        "progress": task.progress,
        "failReason": task.fail_reason,
        "buttons": buttons,
        "maskBase64": "",
        "properties": properties,
    })
}

/// The task as `/api/mj/self` and `/api/mj/` list it (new-api's `Midjourney` row).
pub fn list_item(task: &MidjourneyRow, settings: &Settings) -> Value {
    let image_url = if settings.forward_url && !task.image_url.is_empty() {
        format!("{}/mj/image/{}", settings.server_address, task.mj_id)
    } else {
        task.image_url.clone()
    };
    json!({
        "id": task.id,
        "code": task.code,
        "user_id": task.user_id,
        "action": task.action,
        "mj_id": task.mj_id,
        "prompt": task.prompt,
        "prompt_en": task.prompt_en,
        "description": task.description,
        "state": task.state,
        "submit_time": task.submit_time,
        "start_time": task.start_time,
        "finish_time": task.finish_time,
        "image_url": image_url,
        "video_url": task.video_url,
        "video_urls": task.video_urls,
        "status": task.status,
        "progress": task.progress,
        "fail_reason": task.fail_reason,
        "channel_id": task.channel_id,
        "quota": task.quota,
        "buttons": task.buttons,
        "properties": task.properties,
    })
}

/// How long a task may stay unfinished upstream before it fails (new-api: one hour).
pub const TIMEOUT_MS: i64 = 3_600_000;

/// What one `list-by-condition` item says about `task` at `now_ms`: the new state, whether
/// it is a failure (to refund), or `None` when nothing changed.
pub fn update_of(
    task: &MidjourneyRow,
    item: &Value,
    now_ms: i64,
) -> Option<(MidjourneyUpdate, bool)> {
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let int = |name: &str| item.get(name).and_then(Value::as_i64).unwrap_or(0);
    let json_text = |value: Option<&Value>| match value {
        None | Some(Value::Null) => String::new(),
        Some(value) => value.to_string(),
    };
    let mut update = MidjourneyUpdate {
        status: text("status"),
        progress: text("progress"),
        prompt_en: text("promptEn"),
        state: text("state"),
        submit_time: int("submitTime"),
        start_time: int("startTime"),
        finish_time: int("finishTime"),
        image_url: text("imageUrl"),
        video_url: text("videoUrl"),
        video_urls: match item.get("videoUrls") {
            Some(Value::Array(urls)) if !urls.is_empty() => Value::Array(urls.clone()).to_string(),
            _ => String::new(),
        },
        fail_reason: text("failReason"),
        buttons: match item.get("buttons") {
            None | Some(Value::Null) => task.buttons.clone(),
            value => json_text(value),
        },
        properties: match item.get("properties") {
            None | Some(Value::Null) => task.properties.clone(),
            value => json_text(value),
        },
    };
    if update.submit_time == 0 {
        update.submit_time = task.submit_time;
    }
    if now_ms - task.submit_time > TIMEOUT_MS && update.progress != "100%" {
        update.fail_reason = "upstream task timed out (over 1 hour)".to_string();
        update.status = crate::db::TASK_FAILURE.to_string();
    }
    let changed = task.code != 1
        || task.progress != update.progress
        || task.prompt_en != update.prompt_en
        || task.state != update.state
        || task.start_time != update.start_time
        || task.finish_time != update.finish_time
        || task.image_url != update.image_url
        || task.status != update.status
        || task.fail_reason != update.fail_reason
        || task.video_url != update.video_url
        || task.video_urls != update.video_urls
        || task.buttons != update.buttons
        || task.properties != update.properties
        || !update.fail_reason.is_empty();
    if !changed {
        return None;
    }
    let failed = update.status == crate::db::TASK_FAILURE
        || (update.progress != "100%" && !update.fail_reason.is_empty());
    if failed {
        update.status = crate::db::TASK_FAILURE.to_string();
        update.progress = "100%".to_string();
    }
    Some((update, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_custom_ids() {
        assert_eq!(model_name(IMAGINE), "mj_imagine");
        assert_eq!(model_name(HIGH_VARIATION), "mj_high_variation");
        assert_eq!(model_name(SWAP_FACE), "swap_face");
        assert_eq!(plus_action("MJ::JOB::upsample::2::3dbb"), Ok((UPSCALE, 2)));
        assert_eq!(plus_action("MJ::JOB::variation::3::x"), Ok((VARIATION, 3)));
        assert_eq!(
            plus_action("MJ::JOB::low_variation::1::x"),
            Ok((LOW_VARIATION, 1))
        );
        assert_eq!(plus_action("MJ::Outpaint::50::1::x"), Ok((ZOOM, 1)));
        assert_eq!(plus_action("MJ::Inpaint::1::x"), Ok((INPAINT, 1)));
        assert!(plus_action("").is_err());
        assert!(plus_action("MJ::JOB::what::1").is_err());
        assert_eq!(
            simple_change("123 U2"),
            Some(("123".to_string(), UPSCALE, 2))
        );
        assert_eq!(simple_change("123 r"), Some(("123".to_string(), REROLL, 0)));
        assert_eq!(simple_change("123 V5"), None);
        assert_eq!(simple_change("123"), None);
        assert!(!charged(INPAINT) && charged(IMAGINE));
    }

    #[test]
    fn polls_move_tasks_forward_and_fail_them() {
        let task = MidjourneyRow {
            code: 1,
            mj_id: "1".into(),
            progress: "0%".into(),
            submit_time: 1_000,
            ..MidjourneyRow::default()
        };
        let item =
            json!({"id": "1", "status": "IN_PROGRESS", "progress": "50%", "submitTime": 1000});
        let (update, failed) = update_of(&task, &item, 2_000).expect("changed");
        assert!(!failed);
        assert_eq!(update.progress, "50%");
        let item =
            json!({"id": "1", "status": "FAILURE", "progress": "0%", "failReason": "banned"});
        let (update, failed) = update_of(&task, &item, 2_000).expect("changed");
        assert!(failed);
        assert_eq!(update.progress, "100%");
        let item = json!({"id": "1", "status": "IN_PROGRESS", "progress": "0%"});
        let (update, failed) = update_of(&task, &item, 1_000 + TIMEOUT_MS + 1).expect("timed out");
        assert!(failed);
        assert_eq!(update.status, "FAILURE");
    }
}
