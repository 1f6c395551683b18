//! `GET /api/option/`: every stored option as `[{"key", "value"}]`, sorted by key. As in
//! new-api, options whose name marks a credential (ending in `Token`, `Secret`, `Key`,
//! `secret` or `api_key`) are never returned.

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::json;

/// Whether the option holds a credential and must stay hidden.
fn is_secret(key: &str) -> bool {
    ["Token", "Secret", "Key", "secret", "api_key"]
        .iter()
        .any(|suffix| key.ends_with(suffix))
}

pub async fn list(State(app): State<AppState>, _: RootUser) -> ApiResult {
    let mut options = app.db.all_options().await?;
    options.retain(|(key, _)| !is_secret(key));
    options.sort();
    let data: Vec<_> = options
        .into_iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect();
    Ok(envelope::ok(data))
}

#[cfg(test)]
mod tests {
    use super::is_secret;

    #[test]
    fn credentials_are_hidden() {
        assert!(is_secret("GitHubClientSecret"));
        assert!(is_secret("TurnstileSecretKey"));
        assert!(is_secret("TelegramBotToken"));
        assert!(is_secret("stripe.api_key"));
        assert!(!is_secret("ModelRatio"));
        assert!(!is_secret("SystemName"));
    }
}
