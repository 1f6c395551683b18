//! `POST /api/token/`: creates a key for the caller. Like new-api it answers with success only:
//! the console lists the keys again and reveals one with `POST /api/token/{id}/key`. The limit
//! on keys per user is checked in the transaction that inserts the key (with its change event).

use super::fields;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::ledger;
use axum::extract::State;
use pylon_shared::db::{KeyRateLimits, NewToken, TokenCreation, now_secs};
use pylon_shared::{crypto, keys};
use serde::Deserialize;

/// The settings of a new key. Absent fields take new-api's zero values, except `expired_time`,
/// which defaults to never (-1) rather than to an instant long past.
#[derive(Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default = "never")]
    expired_time: i64,
    #[serde(default)]
    remain_quota: i64,
    #[serde(default)]
    unlimited_quota: bool,
    #[serde(default)]
    model_limits_enabled: bool,
    #[serde(default)]
    model_limits: Option<String>,
    #[serde(default)]
    allow_ips: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    cross_group_retry: bool,
    #[serde(default)]
    rpm_limit: i64,
    #[serde(default)]
    tpm_limit: i64,
    #[serde(default)]
    model_rpm_limit: serde_json::Value,
    #[serde(default)]
    model_tpm_limit: serde_json::Value,
    /// Seed 001: the user channels the key is limited to.
    #[serde(default)]
    user_channel_ids: serde_json::Value,
}

fn never() -> i64 {
    -1
}

pub async fn create(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let name = request.name.unwrap_or_default();
    let model_limits = request.model_limits.unwrap_or_default();
    let allow_ips = request.allow_ips.unwrap_or_default();
    let group = request.group.unwrap_or_default();
    fields::check_name(&name)?;
    fields::check_quota(request.remain_quota)?;
    fields::check_expiry(request.expired_time, now_secs())?;
    fields::check_allow_ips(&allow_ips)?;
    fields::check_group(&app, &user, &group).await?;
    fields::check_rpm_limit(request.rpm_limit)?;
    fields::check_tpm_limit(request.tpm_limit)?;
    let limits = KeyRateLimits {
        rpm_limit: request.rpm_limit,
        tpm_limit: request.tpm_limit,
        model_rpm_limit: fields::model_rpm_limit(&request.model_rpm_limit)?,
        model_tpm_limit: fields::model_tpm_limit(&request.model_tpm_limit)?,
    };
    let routing_group = if group.is_empty() {
        &user.group
    } else {
        &group
    };
    let user_channel_ids =
        super::user_channels::checked(&app, routing_group, &request.user_channel_ids).await?;

    let key = keys::generate();
    let sealed = crypto::seal(&app.secrets.key_encryption, &key.full);
    let max = super::max_user_tokens(&app).await?;
    let created = app
        .db
        .create_token(
            &NewToken {
                user_id: user.id,
                name: &name,
                key_hash: &key.hash,
                key_ciphertext: &sealed,
                expired_time: request.expired_time,
                remain_quota: request.remain_quota,
                unlimited_quota: request.unlimited_quota,
                model_limits_enabled: request.model_limits_enabled,
                model_limits: &model_limits,
                allow_ips: &allow_ips,
                group: &group,
                cross_group_retry: fields::cross_group_retry(&group, request.cross_group_retry),
                limits,
                user_channel_ids: &user_channel_ids,
            },
            max,
        )
        .await?;
    match created {
        TokenCreation::Created { change, .. } => {
            ledger::after_commit(&app, &[], &[change]).await;
            Ok(envelope::ok_message(""))
        }
        TokenCreation::LimitReached => Err(ApiError::invalid(format!(
            "Maximum number of tokens reached ({max})"
        ))),
        TokenCreation::NoUser => Err(ApiError::Unauthorized(
            "Unauthorized, user information is invalid",
        )),
    }
}
