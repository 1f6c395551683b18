//! The channel a create or update request describes, in new-api's field names, and how it is
//! checked and applied to the stored fields. Like new-api's update, an absent (or `null`) field
//! keeps its value, and so does an empty `key`, `name`, `models`, `group` or `other`, or a zero
//! `type` or `status`. Every problem is reported before anything is written.

use super::kinds;
use crate::error::ApiError;
use pylon_shared::db::{CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, ChannelFields, split_list};
use serde::Deserialize;
use serde_json::Value;

/// VARCHAR(255) columns.
const MAX_SHORT_TEXT: usize = 255;
/// `base_url` is VARCHAR(512).
const MAX_BASE_URL: usize = 512;
/// `abilities.group` is VARCHAR(64).
const MAX_GROUP_NAME: usize = 64;
/// A TEXT column holds 65 535 bytes on MySQL.
const MAX_TEXT_BYTES: usize = 65_535;

/// A channel as new-api's console and API send it. Fields that accept either a string or a
/// list (`models`, `group`) or either a JSON string or an object (`model_mapping`,
/// `header_override`, `setting`, `settings`) are read as raw JSON and checked in [`apply`].
#[derive(Debug, Default, Deserialize)]
pub struct ChannelInput {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default, rename = "type")]
    pub kind: Option<i64>,
    /// One key per line.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub models: Option<Value>,
    #[serde(default)]
    pub group: Option<Value>,
    #[serde(default)]
    pub model_mapping: Option<Value>,
    #[serde(default)]
    pub header_override: Option<Value>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub status: Option<i64>,
    #[serde(default)]
    pub test_model: Option<String>,
    #[serde(default)]
    pub openai_organization: Option<String>,
    #[serde(default)]
    pub auto_ban: Option<i64>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub other: Option<String>,
    #[serde(default)]
    pub setting: Option<Value>,
    /// new-api's `settings` (OtherSettings): a JSON object, or its text.
    #[serde(default)]
    pub settings: Option<Value>,
    #[serde(default)]
    pub remark: Option<String>,
    /// Ours: `random` or `round_robin` (new-api's `polling`). On update new-api also sends
    /// `append` or `replace` here: how a non-empty `key` combines with the stored keys.
    #[serde(default)]
    pub key_mode: Option<String>,
    /// new-api's key rotation mode, `random` or `polling`.
    #[serde(default)]
    pub multi_key_mode: Option<String>,
    #[serde(default)]
    pub channel_info: Option<ChannelInfoInput>,
}

/// The part of new-api's `channel_info` that is writable.
#[derive(Debug, Default, Deserialize)]
pub struct ChannelInfoInput {
    #[serde(default)]
    pub multi_key_mode: Option<String>,
}

/// Whether [`apply`] builds a new channel or changes a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Create,
    Update,
}

/// The fields of a new channel before the request is applied (new-api's column defaults).
pub fn new_channel() -> ChannelFields {
    ChannelFields {
        r#type: kinds::OPENAI,
        name: String::new(),
        keys: String::new(),
        key_mode: "random".into(),
        status: CHANNEL_ENABLED,
        status_reason: String::new(),
        base_url: String::new(),
        models: String::new(),
        group: "default".into(),
        model_mapping: String::new(),
        header_override: String::new(),
        priority: 0,
        weight: 0,
        test_model: String::new(),
        openai_organization: String::new(),
        auto_ban: 1,
        tag: String::new(),
        other: String::new(),
        setting: String::new(),
        settings: String::new(),
        remark: String::new(),
    }
}

/// The keys of a `key` field: one per line, trimmed, without empty lines or repeats.
pub fn split_keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in text.lines().map(str::trim).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys
}

/// Applies `input` to `fields` and checks the result.
pub fn apply(
    input: ChannelInput,
    fields: &mut ChannelFields,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let key_rotation = rotation(&input)?;
    match input.kind {
        Some(0) if purpose == Purpose::Update => {}
        Some(kind) if kinds::is_known(kind) => fields.r#type = kind,
        Some(kind) => return Err(ApiError::invalid(format!("Unknown channel type {kind}"))),
        None => {}
    }
    if let Some(name) = input.name.as_deref().map(str::trim)
        && (!name.is_empty() || purpose == Purpose::Create)
    {
        fields.name = short_text("name", name)?;
    }
    apply_keys(&input, fields, purpose)?;
    if let Some(url) = input.base_url.as_deref() {
        fields.base_url = base_url(url)?;
    }
    if let Some(models) = list_field("models", input.models)? {
        fields.models = models;
    }
    if let Some(group) = list_field("group", input.group)? {
        fields.group = group;
    }
    if let Some(mapping) = json_object_field("model_mapping", input.model_mapping, true)? {
        fields.model_mapping = mapping;
    }
    if let Some(headers) = json_object_field("header_override", input.header_override, true)? {
        check_headers(&headers)?;
        fields.header_override = headers;
    }
    if let Some(setting) = json_object_field("setting", input.setting, false)? {
        fields.setting = setting;
    }
    if let Some(settings) = json_object_field("settings", input.settings, false)? {
        fields.settings = settings;
    }
    if let Some(priority) = input.priority {
        fields.priority = priority;
    }
    match input.weight {
        Some(weight) if weight < 0 => {
            return Err(ApiError::invalid("weight must not be negative"));
        }
        Some(weight) => fields.weight = weight,
        None => {}
    }
    apply_status(input.status, fields, purpose)?;
    for (name, value, target) in [
        ("test_model", input.test_model, &mut fields.test_model),
        (
            "openai_organization",
            input.openai_organization,
            &mut fields.openai_organization,
        ),
        ("tag", input.tag, &mut fields.tag),
        ("remark", input.remark, &mut fields.remark),
    ] {
        if let Some(value) = value {
            *target = short_text(name, value.trim())?;
        }
    }
    if let Some(other) = input.other
        && (!other.is_empty() || purpose == Purpose::Create)
    {
        fields.other = long_text("other", other)?;
    }
    match input.auto_ban {
        Some(flag @ (0 | 1)) => fields.auto_ban = flag,
        Some(_) => return Err(ApiError::invalid("auto_ban must be 0 or 1")),
        None => {}
    }
    if let Some(mode) = key_rotation {
        fields.key_mode = mode.into();
    }
    if fields.keys.is_empty() {
        return Err(ApiError::invalid("At least one key is required"));
    }
    if fields.models.is_empty() {
        return Err(ApiError::invalid("models must not be empty"));
    }
    if fields.group.is_empty() {
        return Err(ApiError::invalid("group must not be empty"));
    }
    Ok(())
}

/// `key`: replaces the stored keys when not empty, or (update with `key_mode: append`) adds
/// the new ones after them.
fn apply_keys(
    input: &ChannelInput,
    fields: &mut ChannelFields,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let new_keys = split_keys(input.key.as_deref().unwrap_or(""));
    if new_keys.is_empty() {
        return Ok(());
    }
    let append = purpose == Purpose::Update && input.key_mode.as_deref() == Some("append");
    let mut keys = if append {
        split_keys(&fields.keys)
    } else {
        Vec::new()
    };
    for key in new_keys {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    fields.keys = long_text("key", keys.join("\n"))?;
    Ok(())
}

/// `status`: 1 (enabled) or 2 (disabled by an admin); a change clears the stored reason.
fn apply_status(
    status: Option<i64>,
    fields: &mut ChannelFields,
    purpose: Purpose,
) -> Result<(), ApiError> {
    match status {
        None | Some(0) => Ok(()),
        Some(status) if status == fields.status && purpose == Purpose::Update => Ok(()),
        Some(status @ (CHANNEL_ENABLED | CHANNEL_MANUALLY_DISABLED)) => {
            fields.status = status;
            fields.status_reason.clear();
            Ok(())
        }
        Some(_) => Err(ApiError::invalid(
            "status must be 1 (enabled) or 2 (disabled)",
        )),
    }
}

/// The key rotation mode the request names, from `key_mode`, `multi_key_mode` or
/// `channel_info.multi_key_mode`, in that order.
fn rotation(input: &ChannelInput) -> Result<Option<&'static str>, ApiError> {
    let named = [
        input
            .key_mode
            .as_deref()
            .filter(|m| !matches!(*m, "append" | "replace")),
        input.multi_key_mode.as_deref(),
        input
            .channel_info
            .as_ref()
            .and_then(|i| i.multi_key_mode.as_deref()),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|m| !m.is_empty());
    match named {
        None => Ok(None),
        Some("random") => Ok(Some("random")),
        Some("round_robin" | "polling") => Ok(Some("round_robin")),
        Some(other) => Err(ApiError::invalid(format!(
            "Unknown key_mode {other:?}: use random or round_robin"
        ))),
    }
}

fn short_text(name: &str, value: &str) -> Result<String, ApiError> {
    if value.chars().count() > MAX_SHORT_TEXT {
        return Err(ApiError::invalid(format!(
            "{name} is longer than {MAX_SHORT_TEXT} characters"
        )));
    }
    Ok(value.to_string())
}

fn long_text(name: &str, value: String) -> Result<String, ApiError> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(ApiError::invalid(format!(
            "{name} is longer than {MAX_TEXT_BYTES} bytes"
        )));
    }
    Ok(value)
}

/// Empty, or an http(s) URL with a host; stored without a trailing slash.
pub(super) fn base_url(raw: &str) -> Result<String, ApiError> {
    let url = raw.trim().trim_end_matches('/');
    if url.is_empty() {
        return Ok(String::new());
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ApiError::invalid(format!("base_url is not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid(
            "base_url must be an http:// or https:// URL with a host",
        ));
    }
    // The relay appends `/v1/...` to scheme, host, port and path: nothing else may be there.
    if !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(ApiError::invalid(
            "base_url must not contain credentials, a query or a fragment",
        ));
    }
    if url.chars().count() > MAX_BASE_URL {
        return Err(ApiError::invalid(format!(
            "base_url is longer than {MAX_BASE_URL} characters"
        )));
    }
    Ok(url.to_string())
}

/// `models` or `group`: a comma-separated string or a list of strings, stored trimmed and
/// without repeats. `None` when absent, null or empty (the stored value is kept).
fn list_field(name: &str, value: Option<Value>) -> Result<Option<String>, ApiError> {
    let items: Vec<String> = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => split_list(&text).into_iter().map(String::from).collect(),
        Some(Value::Array(values)) => {
            let mut items = Vec::new();
            for value in values {
                let Value::String(text) = value else {
                    return Err(list_error(name));
                };
                items.extend(split_list(&text).into_iter().map(String::from));
            }
            items
        }
        Some(_) => return Err(list_error(name)),
    };
    let joined = split_list(&items.join(",")).join(",");
    if joined.is_empty() {
        return Ok(None);
    }
    let limit = if name == "group" {
        MAX_GROUP_NAME
    } else {
        MAX_SHORT_TEXT
    };
    if let Some(long) = split_list(&joined)
        .into_iter()
        .find(|item| item.chars().count() > limit)
    {
        return Err(ApiError::invalid(format!(
            "{name}: {long:?} is longer than {limit} characters"
        )));
    }
    if name == "group" && joined.chars().count() > MAX_SHORT_TEXT {
        return Err(ApiError::invalid(format!(
            "group is longer than {MAX_SHORT_TEXT} characters"
        )));
    }
    long_text(name, joined).map(Some)
}

fn list_error(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "{name} must be a comma-separated string or a list of strings"
    ))
}

/// A JSON object given as its text or as an object; stored as compact text, or "" to clear.
/// With `strings_only`, every value must be a string.
fn json_object_field(
    name: &str,
    value: Option<Value>,
    strings_only: bool,
) -> Result<Option<String>, ApiError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(Some(String::new())),
        Some(Value::String(text)) => serde_json::from_str::<Value>(&text)
            .map_err(|e| ApiError::invalid(format!("{name} is not valid JSON: {e}")))?,
        Some(object @ Value::Object(_)) => object,
        Some(_) => return Err(object_error(name, strings_only)),
    };
    let Value::Object(map) = &object else {
        return Err(object_error(name, strings_only));
    };
    if strings_only && map.values().any(|v| !v.is_string()) {
        return Err(object_error(name, strings_only));
    }
    long_text(name, object.to_string()).map(Some)
}

fn object_error(name: &str, strings_only: bool) -> ApiError {
    let what = if strings_only {
        "a JSON object of strings"
    } else {
        "a JSON object"
    };
    ApiError::invalid(format!("{name} must be {what}"))
}

/// Header overrides are sent upstream as they are: each must be a valid header.
fn check_headers(text: &str) -> Result<(), ApiError> {
    if text.is_empty() {
        return Ok(());
    }
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|e| ApiError::invalid(e.to_string()))?;
    for (name, value) in &map {
        let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && value
                .as_str()
                .is_some_and(|v| http::HeaderValue::from_str(v).is_ok());
        if !valid {
            return Err(ApiError::invalid(format!(
                "header_override: {name:?} is not a valid HTTP header"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> ChannelInput {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn creates_with_defaults_and_normalises_lists() {
        let mut fields = new_channel();
        let request = input(json!({
            "name": " A ", "key": "k1\n\n k2 \nk1", "models": ["m1", "m2, m1"],
            "base_url": "https://up.example/", "multi_key_mode": "polling"
        }));
        apply(request, &mut fields, Purpose::Create).unwrap();
        assert_eq!(fields.name, "A");
        assert_eq!(fields.keys, "k1\nk2");
        assert_eq!(fields.models, "m1,m2");
        assert_eq!(fields.group, "default");
        assert_eq!(fields.base_url, "https://up.example");
        assert_eq!(fields.key_mode, "round_robin");
    }

    #[test]
    fn update_keeps_what_is_empty_and_appends_keys() {
        let mut fields = new_channel();
        fields.keys = "k1".into();
        fields.models = "m1".into();
        let request = input(json!({"id": 1, "key": "k2", "key_mode": "append", "models": ""}));
        apply(request, &mut fields, Purpose::Update).unwrap();
        assert_eq!(fields.keys, "k1\nk2");
        assert_eq!(fields.models, "m1");
        assert_eq!(fields.key_mode, "random");
    }

    #[test]
    fn refuses_bad_fields() {
        for bad in [
            json!({"key": "k", "models": "m", "type": 9999}),
            json!({"key": "k", "models": "m", "base_url": "ftp://x"}),
            json!({"key": "k", "models": "m", "base_url": "not a url"}),
            json!({"key": "k", "models": "m", "model_mapping": "[1]"}),
            json!({"key": "k", "models": "m", "model_mapping": "{\"a\": 1}"}),
            json!({"key": "k", "models": "m", "header_override": {"bad header": "x"}}),
            json!({"key": "k", "models": "m", "weight": -1}),
            json!({"key": "k", "models": "m", "status": 3}),
            json!({"key": "k", "models": 5}),
            json!({"key": "", "models": "m"}),
            json!({"key": "k", "models": ""}),
        ] {
            let mut fields = new_channel();
            assert!(
                apply(input(bad.clone()), &mut fields, Purpose::Create).is_err(),
                "{bad} accepted"
            );
        }
    }
}
