//! `GET /api/channel/?p=&page_size=&id_sort=&sort_by=&sort_order=&status=&group=&type=`: one
//! page of channels with the total and the count per type (for new-api's filter bar).

use super::query::{self, Params};
use super::{key_states, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::{Query, State};
use serde_json::json;

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(params): Query<Params>,
) -> ApiResult {
    let filter = query::filter(&params);
    let order = query::order(&params);
    let total = app.db.count_channels(&filter).await?;
    let rows = app
        .db
        .list_channels(&filter, order, page.offset(), page.size)
        .await?;
    let counts = app.db.channel_type_counts(&filter).await?;
    Ok(envelope::ok(json!({
        "items": view::channels(&rows, &key_states(&app, &rows).await?),
        "total": total,
        "page": page.page,
        "page_size": page.size,
        "type_counts": view::type_counts(counts),
    })))
}
