//! `POST /api/redemption/` with `{"name", "quota", "count", "expired_time", "key_prefix"}`
//! (or `quota_min`/`quota_max` for a random quota per code): creates up to 100 codes in one
//! transaction and answers their keys in `data` (and `keys`), as new-api does.

use super::check_expiry;
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::NewRedemption;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;

/// new-api's largest batch.
const MAX_COUNT: i64 = 100;
/// `redemptions.key` holds 64 characters: 32 random hex digits and a prefix of up to 32.
const MAX_PREFIX_CHARS: usize = 32;
/// new-api's longest name.
const MAX_NAME_CHARS: usize = 20;

#[derive(Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    quota: i64,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    expired_time: i64,
    #[serde(default)]
    key_prefix: String,
    #[serde(default)]
    quota_min: Option<i64>,
    #[serde(default)]
    quota_max: Option<i64>,
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let name_chars = request.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "The name must be 1 to {MAX_NAME_CHARS} characters long"
        )));
    }
    // new-api counts a missing count as one code.
    let count = request.count.unwrap_or(1);
    if count <= 0 {
        return Err(ApiError::invalid("The count must be greater than 0"));
    }
    if count > MAX_COUNT {
        return Err(ApiError::invalid(format!(
            "At most {MAX_COUNT} codes can be created at once"
        )));
    }
    let quota_range = quota_range(&request)?;
    check_expiry(request.expired_time)?;
    let prefix = request.key_prefix.trim();
    if prefix.chars().count() > MAX_PREFIX_CHARS {
        return Err(ApiError::invalid(format!(
            "The key prefix must be at most {MAX_PREFIX_CHARS} characters long"
        )));
    }

    let codes = generate(prefix, count, quota_range);
    let rows: Vec<NewRedemption<'_>> = codes
        .iter()
        .map(|(key, quota)| NewRedemption {
            creator_id: admin.id,
            key,
            name: &request.name,
            quota: *quota,
            expired_time: request.expired_time,
        })
        .collect();
    app.db.create_redemptions(&rows).await?;
    tracing::info!(admin = admin.id, count, "redemption codes created");
    let keys: Vec<&str> = codes.iter().map(|(key, _)| key.as_str()).collect();
    Ok(Json(json!({ "success": true, "message": "", "data": keys, "keys": keys })).into_response())
}

/// `count` fresh keys (the prefix and 32 random hex digits), each with a quota drawn from
/// `quota_range`. The thread's generator is not held across an await.
pub(crate) fn generate(prefix: &str, count: i64, quota_range: (i64, i64)) -> Vec<(String, i64)> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let mut bytes = [0u8; 16];
            rng.fill(&mut bytes);
            let quota = rng.random_range(quota_range.0..=quota_range.1);
            (format!("{prefix}{}", hex::encode(bytes)), quota)
        })
        .collect()
}

/// The inclusive range each code's quota is drawn from: one value, or `quota_min..=quota_max`.
fn quota_range(request: &CreateRequest) -> Result<(i64, i64), ApiError> {
    match (request.quota_min, request.quota_max) {
        (None, None) => {
            if request.quota <= 0 {
                return Err(ApiError::invalid("The quota must be greater than 0"));
            }
            Ok((request.quota, request.quota))
        }
        (Some(min), Some(max)) => {
            if min <= 0 || max <= 0 {
                return Err(ApiError::invalid(
                    "quota_min and quota_max must be greater than 0",
                ));
            }
            if min > max {
                return Err(ApiError::invalid("quota_min cannot exceed quota_max"));
            }
            Ok((min, max))
        }
        _ => Err(ApiError::invalid(
            "A random quota needs both quota_min and quota_max",
        )),
    }
}
