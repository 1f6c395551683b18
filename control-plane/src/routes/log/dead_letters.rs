//! `GET /api/log/dead_letters` (admin): finished requests the proxy's settlement writer could
//! never write (a row the database refused again and again), newest first. Their charge was not
//! taken; the full record is in `record` (JSON).

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use axum::extract::{Query, State};

pub async fn list(
    State(app): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<PageQuery>,
) -> ApiResult {
    let page = Page::from_query(&query);
    let (rows, total) = app.db.dead_letters(page.offset(), page.size).await?;
    let items = rows
        .into_iter()
        .map(|row| serde_json::to_value(row).unwrap_or_default())
        .collect();
    Ok(envelope::ok(page.body(items, total)))
}
