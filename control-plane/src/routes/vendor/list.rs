//! `GET /api/vendors/`, `GET /api/vendors/search?keyword=` and `GET /api/vendors/{id}`.

use super::{answer, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::PathId;
use crate::pagination::Page;
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct VendorQuery {
    #[serde(default)]
    keyword: String,
}

pub async fn all(State(app): State<AppState>, _: AdminUser, page: Page) -> ApiResult {
    listing(&app, "", page).await
}

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(query): Query<VendorQuery>,
) -> ApiResult {
    listing(&app, &query.keyword, page).await
}

async fn listing(app: &AppState, keyword: &str, page: Page) -> ApiResult {
    let (rows, total) = app.db.vendors(keyword, page.offset(), page.size).await?;
    let counts = app.db.vendor_model_counts().await?;
    let items: Vec<_> = rows
        .iter()
        .map(|row| view(row, counts.get(&row.id).copied().unwrap_or(0)))
        .collect();
    Ok(envelope::ok(page.body(items, total)))
}

pub async fn one(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    answer(&app, id).await
}
