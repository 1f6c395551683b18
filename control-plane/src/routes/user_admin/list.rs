//! `GET /api/user/?p=&page_size=&sort_by=&sort_order=`: every live user, one page at a time,
//! newest first unless sorted otherwise. Administrators see every role here (as in new-api);
//! they just cannot change their peers or superiors.

use super::{SortQuery, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::UserSearch;

pub async fn list(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(sort_query): Query<SortQuery>,
) -> ApiResult {
    let (sort, ascending) = sort_query.sort();
    let (users, total) = app
        .db
        .search_users(
            &UserSearch::default(),
            sort,
            ascending,
            page.offset(),
            page.size,
        )
        .await?;
    Ok(envelope::ok(
        page.body(users.iter().map(view).collect(), total),
    ))
}
