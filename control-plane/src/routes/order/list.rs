//! `GET /api/orders`: the caller's plan orders, newest first, paged (orders past their time
//! show as expired).

use super::view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery};
use crate::routes::payment::settings::PaymentSettings;
use crate::routes::topup::list::expire_stale;
use axum::extract::{Query, State};
use pylon_shared::db::TopUpFilter;

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(page): Query<PageQuery>,
) -> ApiResult {
    expire_stale(&app).await?;
    let expire_secs = PaymentSettings::load(&app).await?.order_expire_secs;
    let page = Page::from_query(&page);
    let filter = TopUpFilter {
        user_id: Some(user.id),
        plans_only: true,
        ..TopUpFilter::default()
    };
    let (rows, total) = app
        .db
        .top_ups_page(filter, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(page.body(
        rows.iter().map(|o| view(o, expire_secs)).collect(),
        total,
    )))
}
