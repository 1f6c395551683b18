//! `GET /api/user/check-in/records?p=&page_size=` (seed 001): one page of the caller's
//! check-ins, newest first, in new-api's page shape. Listed even while check-in is switched
//! off: they are the caller's history.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::State;
use serde_json::json;

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Page,
) -> ApiResult {
    let (rows, total) = app
        .db
        .checkin_page(user.id, page.offset(), page.size)
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
    Ok(envelope::ok(page.body(items, total)))
}
