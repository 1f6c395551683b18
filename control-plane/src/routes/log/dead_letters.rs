//! `GET /api/log/dead_letters` (admin): finished requests the proxy's settlement writer could
//! never write (a row the database refused again and again), newest first. Their charge was not
//! taken; the full record is in `record` (JSON).

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::State;

pub async fn list(State(app): State<AppState>, _admin: AdminUser, page: Page) -> ApiResult {
    let (rows, total) = app.db.dead_letters(page.offset(), page.size).await?;
    Ok(envelope::ok(page.body(rows, total)))
}
