//! `GET /api/channel/search?keyword=&group=&model=&status=&type=&p=&page_size=`: channels
//! whose id, name or base URL matches the keyword (or one of whose keys is exactly it), that
//! serve the group and a model containing `model`. As in new-api the type counts are taken
//! before the type filter, and the page is cut from the whole result.

use super::query::{self, Params};
use super::{key_states, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::ChannelSearch;
use serde_json::json;
use std::collections::BTreeMap;

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(params): Query<Params>,
) -> ApiResult {
    let criteria = ChannelSearch {
        keyword: params.get("keyword").cloned().unwrap_or_default(),
        model: params.get("model").cloned().unwrap_or_default(),
        group: query::group(&params),
        status: query::status(&params),
    };
    let mut rows = app
        .db
        .search_channels(&criteria, query::order(&params))
        .await?;
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    for row in &rows {
        *counts.entry(row.r#type).or_default() += 1;
    }
    if let Some(kind) = query::kind(&params) {
        rows.retain(|row| row.r#type == kind);
    }
    let total = rows.len();
    let start = usize::try_from(page.offset())
        .unwrap_or(usize::MAX)
        .min(total);
    let end = start
        .saturating_add(usize::try_from(page.size).unwrap_or(0))
        .min(total);
    let page_rows = &rows[start..end];
    Ok(envelope::ok(json!({
        "items": view::channels(page_rows, &key_states(&app, page_rows).await?),
        "total": total,
        "page": page.page,
        "page_size": page.size,
        "type_counts": view::type_counts(counts),
    })))
}
