//! `/api/token/*`: a user's own API keys (new-api's token routes), and `/api/usage/token/`,
//! where a key reports its own usage. A user only ever sees or touches their own keys: another
//! user's id gets the same answer as an id that does not exist.
//!
//! Keys travel as new-api sends them: without the `sk-` prefix (its console adds it), masked in
//! lists and details, in full only from `POST /api/token/{id}/key` and
//! `POST /api/token/batch/keys`.

pub(super) mod batch_delete;
pub(super) mod batch_keys;
pub(super) mod create;
pub(super) mod delete;
pub(super) mod fields;
pub(super) mod get;
pub(super) mod key_auth;
pub(super) mod list;
pub(super) mod reveal;
pub(super) mod search;
pub(super) mod update;
pub(super) mod usage;
mod user_channels;

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::StoredToken;
use pylon_shared::keys::{self, KEY_PREFIX};
use serde_json::{Value, json};

/// new-api's answer for an id that is not one of the caller's keys (gorm's error text).
pub(super) const NOT_FOUND: &str = "record not found";
/// Keys a user may hold when the `MaxUserTokens` option is unset (new-api's default).
const DEFAULT_MAX_USER_TOKENS: i64 = 1000;

/// The full key (`sk-...`) from its encrypted copy; `None` when it cannot be decrypted (the
/// key encryption secret was changed).
fn full_key(app: &App, token: &StoredToken) -> Option<String> {
    let key = pylon_shared::crypto::open(&app.secrets.key_encryption, &token.key_ciphertext);
    if key.is_none() {
        tracing::warn!(
            token_id = token.row.id,
            "stored key cannot be decrypted; was security.key_encryption_secret changed?"
        );
    }
    key
}

/// A key as new-api sends it: without `sk-`.
fn wire_key(full: &str) -> &str {
    full.strip_prefix(KEY_PREFIX).unwrap_or(full)
}

/// A token as new-api renders it, with its key masked.
fn view(app: &App, token: &StoredToken) -> Value {
    let masked = full_key(app, token)
        .map(|full| wire_key(&keys::mask(&full)).to_string())
        .unwrap_or_default();
    let t = &token.row;
    json!({
        "id": t.id,
        "user_id": t.user_id,
        "key": masked,
        "status": t.status,
        "name": t.name,
        "created_time": t.created_time,
        "accessed_time": t.accessed_time,
        "expired_time": t.expired_time,
        "remain_quota": t.remain_quota,
        "unlimited_quota": t.unlimited_quota != 0,
        "model_limits_enabled": t.model_limits_enabled != 0,
        "model_limits": t.model_limits,
        "allow_ips": t.allow_ips,
        "used_quota": t.used_quota,
        "group": t.group,
        "cross_group_retry": t.cross_group_retry != 0,
        "rpm_limit": t.rpm_limit,
        "tpm_limit": t.tpm_limit,
        "model_rpm_limit": fields::model_limit_view(&t.model_rpm_limit),
        "model_tpm_limit": fields::model_limit_view(&t.model_tpm_limit),
        "user_channel_ids": user_channels::view(&t.user_channel_ids),
    })
}

/// After deleted keys were committed with their change events: announce them and forget their
/// balance counters in Redis (best effort, as every post-commit step; a stale counter of a
/// deleted key is never read, as the key no longer authenticates).
async fn after_delete(app: &App, deleted: &[(i64, pylon_shared::db::ChangeEvent)]) {
    let (ids, changes): (Vec<i64>, Vec<_>) = deleted.iter().cloned().unzip();
    crate::ledger::after_commit(app, &[], &changes).await;
    crate::ledger::forget_tokens(app, &ids).await;
}

/// The `MaxUserTokens` option: how many keys one user may hold.
async fn max_user_tokens(app: &App) -> Result<i64, ApiError> {
    Ok(app
        .settings
        .now()
        .get("MaxUserTokens")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(DEFAULT_MAX_USER_TOKENS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_keys_carry_no_prefix() {
        assert_eq!(wire_key("sk-abc"), "abc");
        assert_eq!(wire_key("abc"), "abc");
    }
}
