//! Seed 004's card-key management for administrators, over the redemption codes (a card key is
//! a redemption code, redeemed by `POST /api/use_carmi`):
//! - `GET /api/admin/carmi?page&page_size`: `{count, rows}`, newest first; a row's `status` is
//!   the seed's: 0 unused, 1 used, 2 expired or disabled; `value` the quota it credits;
//! - `POST /api/admin/carmi` with `{type, end_time, quantity, reward}`: creates `quantity` keys
//!   (1 to 100) of `reward` quota, valid through `end_time` (`YYYY-MM-DD`, UTC, or empty for
//!   no end); answers them. Only `type: "integral"` keys exist (days of membership are sold as
//!   membership products);
//! - `DELETE /api/admin/carmi/:id`: answers how many were deleted;
//! - `GET /api/admin/carmi/check`: how many unused keys are past their end (expiry is judged
//!   on every redemption, so nothing needs rewriting).

use super::product::datetime;
use super::{ShopPage, shop_answer, shop_ok};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::{ApiJson, PathId};
use crate::routes::redemption::create::generate;
use axum::extract::{Query, State};
use axum::response::Response;
use pylon_shared::db::{
    NewRedemption, REDEMPTION_ENABLED, REDEMPTION_USED, RedemptionRow, RedemptionSearch, now_secs,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The most keys one request creates.
const MAX_QUANTITY: i64 = 100;

#[derive(Deserialize)]
pub struct CarmiInput {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    end_time: String,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    reward: i64,
}

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    Query(paging): Query<ShopPage>,
) -> Response {
    let result = async {
        let (rows, count) = app
            .db
            .redemptions_page(RedemptionSearch::default(), paging.offset(), paging.size())
            .await?;
        let now = now_secs();
        let rows: Vec<Value> = rows.iter().map(|row| row_view(row, now)).collect();
        Ok(shop_ok(json!({ "count": count, "rows": rows }), ""))
    };
    shop_answer(result.await)
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<CarmiInput>,
) -> Response {
    let result = async {
        if input.kind != "integral" {
            return Err(ApiError::invalid(
                "Only integral card keys exist: sell days of membership as a membership product",
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&input.quantity) {
            return Err(ApiError::invalid(format!(
                "The quantity must be 1 to {MAX_QUANTITY}"
            )));
        }
        if input.reward <= 0 {
            return Err(ApiError::invalid("The reward must be positive"));
        }
        let expired_time = end_of_day(&input.end_time)?;
        if expired_time != 0 && expired_time < now_secs() {
            return Err(ApiError::invalid("The end date has passed"));
        }
        let codes = generate("", input.quantity, (input.reward, input.reward));
        let name = format!("carmi {}", input.reward);
        let rows: Vec<NewRedemption<'_>> = codes
            .iter()
            .map(|(key, quota)| NewRedemption {
                creator_id: admin.user.id,
                key,
                name: &name,
                quota: *quota,
                expired_time,
            })
            .collect();
        app.db.create_redemptions(&rows).await?;
        let mut created = Vec::with_capacity(codes.len());
        for (key, _) in &codes {
            if let Some(row) = app.db.redemption_by_key(key).await? {
                created.push(json!({
                    "id": row.id.to_string(),
                    "key": row.key,
                    "type": "integral",
                    "end_time": input.end_time.trim(),
                    "value": row.quota,
                    "status": 0,
                }));
            }
        }
        tracing::info!(
            admin = admin.user.id,
            count = created.len(),
            "card keys created"
        );
        Ok(shop_ok(Value::Array(created), ""))
    };
    shop_answer(result.await)
}

pub async fn delete(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> Response {
    let result = async {
        let deleted = app.db.delete_redemption(id).await?;
        tracing::info!(
            admin = admin.user.id,
            card_key = id,
            deleted,
            "card key deleted"
        );
        Ok(shop_ok(json!(i64::from(deleted)), "删除成功"))
    };
    shop_answer(result.await)
}

pub async fn check(State(app): State<AppState>, _: AdminUser) -> Response {
    let result = async {
        let search = RedemptionSearch {
            keyword: "",
            status: "expired",
        };
        let (_, expired) = app.db.redemptions_page(search, 0, 1).await?;
        Ok(shop_ok(json!({ "expired": expired }), ""))
    };
    shop_answer(result.await)
}

/// The seed's row of a card key.
fn row_view(row: &RedemptionRow, now: i64) -> Value {
    let status = match row.status {
        REDEMPTION_USED => 1,
        REDEMPTION_ENABLED if !row.is_expired(now) => 0,
        _ => 2,
    };
    let end_time = if row.expired_time == 0 {
        String::new()
    } else {
        chrono::DateTime::from_timestamp(row.expired_time, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let used_by = (row.used_user_id > 0).then_some(row.used_user_id);
    json!({
        "id": row.id.to_string(),
        "user_id": used_by,
        "ip": null,
        "key": row.key,
        "value": row.quota.to_string(),
        "type": "integral",
        "end_time": end_time,
        "status": status,
        "create_time": datetime(row.created_time),
        "update_time": datetime(row.redeemed_time.max(row.created_time)),
    })
}

/// The last second (UTC) of the day `YYYY-MM-DD`; 0 for an empty date.
fn end_of_day(date: &str) -> Result<i64, ApiError> {
    let date = date.trim();
    if date.is_empty() {
        return Ok(0);
    }
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("end_time must be a date, YYYY-MM-DD"))?;
    let end = day
        .and_hms_opt(23, 59, 59)
        .ok_or_else(|| ApiError::invalid("end_time must be a date, YYYY-MM-DD"))?;
    Ok(end.and_utc().timestamp())
}
