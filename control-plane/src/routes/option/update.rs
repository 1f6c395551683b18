//! `PUT /api/option/` with `{"key": ..., "value": ...}`: stores one option. The value may be a
//! string, a number or a bool (stored as new-api stores them: `"true"`/`"false"`, numbers in
//! their shortest form), or an object or array (stored as its JSON text). Unknown keys are
//! accepted, as new-api keeps many; a known option must hold its kind (`settings::registry`),
//! and pricing tables and groups are checked first (see `pricing`, `groups`).

use super::{groups, pricing};
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;

/// `options.key` is VARCHAR(128).
const MAX_KEY_CHARS: usize = 128;
/// `options.value` is TEXT: 65 535 bytes on MySQL.
const MAX_VALUE_BYTES: usize = 65_535;

#[derive(Deserialize)]
pub struct OptionUpdate {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Value,
}

pub async fn update(
    State(app): State<AppState>,
    RootUser(root): RootUser,
    ApiJson(request): ApiJson<OptionUpdate>,
) -> ApiResult {
    let key = request.key;
    if key.trim().is_empty() {
        return Err(ApiError::invalid("Invalid parameters: key is empty"));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::invalid(format!(
            "Invalid parameters: key is longer than {MAX_KEY_CHARS} characters"
        )));
    }
    if crate::routes::invitation::settings::is_invitation_key(&key) {
        return Err(ApiError::invalid(
            "The invitation settings change together: use PUT /api/option/invitation-code",
        ));
    }
    let value = as_text(request.value)?;
    crate::settings::registry::check(&key, &value)
        .map_err(|problem| ApiError::invalid(format!("Invalid parameters: {problem}")))?;
    pricing::check(&key, &value)?;
    groups::check(&key, &value)?;
    let value = crate::routes::payment::settings::option_for_storage(&app, &key, value);
    if value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::invalid(format!(
            "Invalid parameters: value is longer than {MAX_VALUE_BYTES} bytes"
        )));
    }
    app.settings
        .store(&app.db, &app.changes, &key, &value)
        .await?;
    tracing::info!(root = root.user.id, %key, "option updated");
    Ok(envelope::ok_message(""))
}

/// The stored text of a JSON value.
fn as_text(value: Value) -> Result<String, ApiError> {
    match value {
        Value::Null => Err(ApiError::invalid("Invalid parameters: value is missing")),
        Value::String(text) => Ok(text),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Number(number) => Ok(match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => int.to_string(),
            (_, Some(int), _) => int.to_string(),
            // Rust prints the shortest exact form without an exponent, like Go's
            // `FormatFloat(f, 'f', -1, 64)` that new-api uses.
            (_, _, Some(float)) => float.to_string(),
            _ => number.to_string(),
        }),
        other => Ok(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::as_text;
    use serde_json::json;

    #[test]
    fn values_are_stored_as_new_api_stores_them() {
        assert_eq!(as_text(json!(true)).unwrap(), "true");
        assert_eq!(as_text(json!(false)).unwrap(), "false");
        assert_eq!(as_text(json!(42)).unwrap(), "42");
        assert_eq!(as_text(json!(2.0)).unwrap(), "2");
        assert_eq!(as_text(json!(0.5)).unwrap(), "0.5");
        assert_eq!(as_text(json!("x")).unwrap(), "x");
        assert_eq!(as_text(json!({"a": 1})).unwrap(), r#"{"a":1}"#);
        assert!(as_text(json!(null)).is_err());
    }
}
