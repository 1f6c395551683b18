//! `GET /api/redemption/` (a page of codes, newest first), `GET /api/redemption/search`
//! (`keyword`: id, name prefix or whole key; `status`: 1, 2, 3 or `expired`) and
//! `GET /api/redemption/{id}`.

use super::{parse_id, target, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use axum::extract::{Path, Query, State};
use pylon_shared::db::RedemptionSearch;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    status: String,
}

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    Query(page): Query<PageQuery>,
) -> ApiResult {
    page_of(&app, RedemptionSearch::default(), Page::from_query(&page)).await
}

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    Query(page): Query<PageQuery>,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    let search = RedemptionSearch {
        keyword: &query.keyword,
        status: &query.status,
    };
    page_of(&app, search, Page::from_query(&page)).await
}

pub async fn get_one(
    State(app): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> ApiResult {
    Ok(envelope::ok(view(&target(&app, parse_id(&id)?).await?)))
}

async fn page_of(app: &crate::app::App, search: RedemptionSearch<'_>, page: Page) -> ApiResult {
    let (rows, total) = app
        .db
        .redemptions_page(search, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(
        page.body(rows.iter().map(view).collect(), total),
    ))
}
