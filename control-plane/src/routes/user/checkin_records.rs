//! `GET /api/user/check-in/records?p=&page_size=` (seed 001): one page of the caller's
//! check-ins, newest first, in new-api's page shape. Listed even while check-in is switched
//! off: they are the caller's history.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::{Query, State};
use serde_json::json;
use std::collections::HashMap;

const DEFAULT_PAGE_SIZE: i64 = 10;
const MAX_PAGE_SIZE: i64 = 100;
/// Pages beyond this are clamped, so that the offset cannot overflow.
const MAX_PAGE: i64 = 1_000_000;

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    let int = |name: &str| params.get(name).and_then(|v| v.trim().parse::<i64>().ok());
    let page = int("p").unwrap_or(1).clamp(1, MAX_PAGE);
    let page_size = int("page_size")
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let (rows, total) = app
        .db
        .checkin_page(user.id, (page - 1) * page_size, page_size)
        .await?;
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "checkin_date": r.day,
                "quota_awarded": r.quota,
                "created_at": r.created_at,
            })
        })
        .collect();
    Ok(envelope::ok(json!({
        "items": items,
        "total": total,
        "page": page,
        "page_size": page_size,
    })))
}
