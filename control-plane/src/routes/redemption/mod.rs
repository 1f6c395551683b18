//! `/api/redemption/*`: administrators' redemption codes (new-api's `AdminAuth` routes):
//! create in batches, list, search, get, update, delete one, delete every invalid one. Users
//! redeem a code with `POST /api/user/topup` (see `routes::topup`).

pub(crate) mod create;
mod delete;
mod list;
mod update;

use crate::app::{App, AppState};
use crate::error::ApiError;
use axum::Router;
use axum::routing::{delete, get};
use pylon_shared::db::RedemptionRow;
use serde_json::{Value, json};

/// new-api's answer for an id that names no code.
const NOT_FOUND: &str = "Redemption code does not exist";

/// Every route, with full paths (new-api's console sends the trailing slash).
pub fn router() -> Router<AppState> {
    let root = || get(list::list).post(create::create).put(update::update);
    Router::new()
        .route("/api/redemption/", root())
        .route("/api/redemption", root())
        .route("/api/redemption/search", get(list::search))
        .route("/api/redemption/invalid", delete(delete::delete_invalid))
        .route(
            "/api/redemption/{id}",
            get(list::get_one).delete(delete::delete_one),
        )
}

/// A code as new-api renders it.
fn view(code: &RedemptionRow) -> Value {
    json!({
        "id": code.id,
        "user_id": code.user_id,
        "key": code.key,
        "status": code.status,
        "name": code.name,
        "quota": code.quota,
        "created_time": code.created_time,
        "redeemed_time": code.redeemed_time,
        "used_user_id": code.used_user_id,
        "expired_time": code.expired_time,
        "count": 0,
    })
}

/// The id in the path; anything but a positive integer is refused.
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("Invalid parameters: id must be a positive integer"))
}

/// The code `id`, or new-api's "does not exist".
async fn target(app: &App, id: i64) -> Result<RedemptionRow, ApiError> {
    app.db
        .redemption_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))
}

/// new-api's rule for an expiry: 0 (never) or not in the past.
fn check_expiry(expired_time: i64) -> Result<(), ApiError> {
    if expired_time != 0 && expired_time < pylon_shared::db::now_secs() {
        return Err(ApiError::invalid(
            "The expiry time cannot be earlier than the current time",
        ));
    }
    Ok(())
}
