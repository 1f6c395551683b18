//! `GET /api/user/topup/self` (the caller's orders of the last 30 days, as new-api limits
//! them) and `GET /api/user/topup` (every order, for administrators), newest first, paged,
//! with `keyword` matching a part of the order number.

use super::view;
use crate::app::{App, AppState};
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use crate::routes::payment::settings::PaymentSettings;
use axum::extract::{Query, State};
use pylon_shared::db::{TopUpFilter, now_secs};
use serde::Deserialize;

/// new-api shows a user the orders of the last 30 days.
const OWN_WINDOW_SECS: i64 = 30 * 24 * 3600;

#[derive(Deserialize, Default)]
pub struct KeywordQuery {
    #[serde(default)]
    keyword: String,
}

pub async fn own(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(page): Query<PageQuery>,
    Query(query): Query<KeywordQuery>,
) -> ApiResult {
    let filter = TopUpFilter {
        user_id: Some(user.id),
        keyword: &query.keyword,
        since: Some(now_secs() - OWN_WINDOW_SECS),
        plans_only: false,
    };
    page_of(&app, filter, Page::from_query(&page)).await
}

pub async fn all(
    State(app): State<AppState>,
    _: AdminUser,
    Query(page): Query<PageQuery>,
    Query(query): Query<KeywordQuery>,
) -> ApiResult {
    let filter = TopUpFilter {
        user_id: None,
        keyword: &query.keyword,
        since: None,
        plans_only: false,
    };
    page_of(&app, filter, Page::from_query(&page)).await
}

async fn page_of(app: &App, filter: TopUpFilter<'_>, page: Page) -> ApiResult {
    expire_stale(app).await?;
    let (rows, total) = app
        .db
        .top_ups_page(filter, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(
        page.body(rows.iter().map(view).collect(), total),
    ))
}

/// Marks the orders past their time expired, so that a list shows what a callback would find.
pub(crate) async fn expire_stale(app: &App) -> Result<(), crate::error::ApiError> {
    let settings = PaymentSettings::load(app).await?;
    app.db
        .expire_stale_top_ups(now_secs() - settings.order_expire_secs)
        .await?;
    Ok(())
}
