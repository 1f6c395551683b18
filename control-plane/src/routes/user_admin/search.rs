//! `GET /api/user/search?keyword=&group=&role=&status=&p=&page_size=`: live users whose id is
//! `keyword` or whose username, email or display name contains it (ignoring ASCII case; `%`
//! and `_` match themselves), optionally only in `group`, with `role` or with `status`.
//! Unreadable `role` or `status` values are ignored, as new-api ignores them.

use super::{SortQuery, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::UserSearch;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    keyword: Option<String>,
    group: Option<String>,
    role: Option<String>,
    status: Option<String>,
}

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(sort_query): Query<SortQuery>,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    let (sort, ascending) = sort_query.sort();
    let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    let search = UserSearch {
        keyword: query.keyword.as_deref().unwrap_or_default(),
        group: query.group.as_deref().map(str::trim).unwrap_or_default(),
        role: number(&query.role),
        status: number(&query.status),
    };
    let (users, total) = app
        .db
        .search_users(&search, sort, ascending, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(
        page.body(users.iter().map(view).collect(), total),
    ))
}
