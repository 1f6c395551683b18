//! `PUT /api/user/setting`: the caller's notification settings (new-api's `UpdateUserSetting`),
//! kept with the other personal settings in `users.setting` (a JSON object). How to warn of a
//! low balance (`notify_type`: email, webhook, bark or gotify, each with its own fields), the
//! threshold, and two relay preferences. Other keys of the object (sidebar, language, and the
//! ones only an administrator sets) are kept as they are.

use crate::app::App;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::db::UserRow;
use pylon_shared::roles::ROLE_ADMIN;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `users.setting` is TEXT: 65 535 bytes on MySQL.
const MAX_SETTING_BYTES: usize = 65_535;
const MAX_URL_BYTES: usize = 2048;
const MAX_SECRET_BYTES: usize = 512;
const MAX_EMAIL_BYTES: usize = 255;
/// Gotify priorities run 0..=10; new-api stores 5 for anything outside.
const DEFAULT_GOTIFY_PRIORITY: i64 = 5;

/// Every key this endpoint owns; they are replaced as a whole on each save.
const NOTIFICATION_KEYS: [&str; 12] = [
    "notify_type",
    "quota_warning_threshold",
    "webhook_url",
    "webhook_secret",
    "notification_email",
    "bark_url",
    "gotify_url",
    "gotify_token",
    "gotify_priority",
    "upstream_model_update_notify_enabled",
    "accept_unset_model_ratio_model",
    "record_ip_log",
];

#[derive(Deserialize)]
pub struct SettingRequest {
    #[serde(default)]
    notify_type: String,
    #[serde(default)]
    quota_warning_threshold: f64,
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    webhook_secret: String,
    #[serde(default)]
    notification_email: String,
    #[serde(default)]
    bark_url: String,
    #[serde(default)]
    gotify_url: String,
    #[serde(default)]
    gotify_token: String,
    #[serde(default)]
    gotify_priority: i64,
    #[serde(default)]
    upstream_model_update_notify_enabled: Option<bool>,
    #[serde(default)]
    accept_unset_model_ratio_model: bool,
    #[serde(default)]
    record_ip_log: bool,
}

pub async fn update(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<SettingRequest>,
) -> ApiResult {
    let mut setting = load_setting(&user);
    let previous = setting.clone();
    for key in NOTIFICATION_KEYS {
        setting.remove(key);
    }
    let threshold = request.quota_warning_threshold;
    if !(threshold.is_finite() && threshold > 0.0) {
        return Err(ApiError::invalid(
            "The quota warning threshold must be greater than 0",
        ));
    }
    setting.insert("quota_warning_threshold".into(), json!(threshold));
    match request.notify_type.as_str() {
        "email" => {
            let email = request.notification_email.trim();
            if !email.is_empty() {
                check_email(email)?;
                setting.insert("notification_email".into(), json!(email));
            }
        }
        "webhook" => {
            check_url("Webhook URL", &request.webhook_url)?;
            setting.insert("webhook_url".into(), json!(request.webhook_url));
            check_secret("Webhook secret", &request.webhook_secret)?;
            // A blank secret keeps the one stored before, so a console need not echo it back.
            let secret = if request.webhook_secret.is_empty() {
                previous.get("webhook_secret").cloned()
            } else {
                Some(json!(request.webhook_secret))
            };
            if let Some(secret) = secret {
                setting.insert("webhook_secret".into(), secret);
            }
        }
        "bark" => {
            check_url("Bark URL", &request.bark_url)?;
            setting.insert("bark_url".into(), json!(request.bark_url));
        }
        "gotify" => {
            check_url("Gotify URL", &request.gotify_url)?;
            if request.gotify_token.is_empty() {
                return Err(ApiError::invalid("Gotify token must not be empty"));
            }
            check_secret("Gotify token", &request.gotify_token)?;
            let priority = if (0..=10).contains(&request.gotify_priority) {
                request.gotify_priority
            } else {
                DEFAULT_GOTIFY_PRIORITY
            };
            setting.insert("gotify_url".into(), json!(request.gotify_url));
            setting.insert("gotify_token".into(), json!(request.gotify_token));
            setting.insert("gotify_priority".into(), json!(priority));
        }
        _ => {
            return Err(ApiError::invalid(
                "Invalid notify_type: use email, webhook, bark or gotify",
            ));
        }
    }
    setting.insert("notify_type".into(), json!(request.notify_type));
    // Only administrators receive upstream model update notices.
    let upstream_notices = match request.upstream_model_update_notify_enabled {
        Some(enabled) if user.role >= ROLE_ADMIN => Some(json!(enabled)),
        _ => previous
            .get("upstream_model_update_notify_enabled")
            .cloned(),
    };
    if let Some(enabled) = upstream_notices {
        setting.insert("upstream_model_update_notify_enabled".into(), enabled);
    }
    setting.insert(
        "accept_unset_model_ratio_model".into(),
        json!(request.accept_unset_model_ratio_model),
    );
    setting.insert("record_ip_log".into(), json!(request.record_ip_log));
    store_setting(&app, user.id, setting).await?;
    Ok(envelope::ok_message("Settings saved"))
}

/// The user's personal settings as an object (empty when unset or unreadable).
pub(super) fn load_setting(user: &UserRow) -> Map<String, Value> {
    match serde_json::from_str(&user.setting) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Stores the user's personal settings and tells the proxies (the relay reads some of them).
pub(super) async fn store_setting(
    app: &App,
    user_id: i64,
    setting: Map<String, Value>,
) -> Result<(), ApiError> {
    let text = Value::Object(setting).to_string();
    if text.len() > MAX_SETTING_BYTES {
        return Err(ApiError::invalid("Settings are too large"));
    }
    app.db.set_user_setting(user_id, &text).await?;
    app.changes.publish(Topic::User, user_id).await?;
    Ok(())
}

/// An absolute http(s) URL.
fn check_url(what: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid(format!("{what} must not be empty")));
    }
    if value.len() > MAX_URL_BYTES {
        return Err(ApiError::invalid(format!("{what} is too long")));
    }
    let parsed = url::Url::parse(value)
        .map_err(|_| ApiError::invalid(format!("{what} is not a valid URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid(format!(
            "{what} must be an http:// or https:// URL"
        )));
    }
    Ok(())
}

fn check_secret(what: &str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::invalid(format!("{what} is too long")));
    }
    Ok(())
}

/// A plausible address: something before and after a single `@`, no spaces.
fn check_email(email: &str) -> Result<(), ApiError> {
    let plausible = email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if !plausible {
        return Err(ApiError::invalid(
            "Notification email is not a valid address",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_email, check_url};

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(check_url("u", "https://hooks.example.com/x?y=1").is_ok());
        assert!(check_url("u", "http://127.0.0.1:8080/").is_ok());
        assert!(check_url("u", "").is_err());
        assert!(check_url("u", "/relative").is_err());
        assert!(check_url("u", "ftp://example.com/").is_err());
        assert!(check_url("u", "not a url").is_err());
    }

    #[test]
    fn emails_are_plausible() {
        assert!(check_email("me@example.com").is_ok());
        assert!(check_email("me@localhost").is_err());
        assert!(check_email("@example.com").is_err());
        assert!(check_email("me@@example.com").is_err());
        assert!(check_email("me @example.com").is_err());
    }
}
