//! `GET /api/invitation/` (a page of every code, newest first), `GET /api/invitation/search`
//! (`keyword`: id, name prefix, code prefix or a whole code; `status`: `enabled`, `disabled`,
//! `used`, `expired` or new-api's numbers) and `GET /api/invitation/{id}`.

use super::view;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::InvitationSearch;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    status: String,
}

pub async fn list(State(app): State<AppState>, _root: RootUser, page: Page) -> ApiResult {
    page_of(&app, InvitationSearch::default(), page).await
}

pub async fn search(
    State(app): State<AppState>,
    _root: RootUser,
    page: Page,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    let search = InvitationSearch {
        keyword: &query.keyword,
        status: &query.status,
    };
    page_of(&app, search, page).await
}

pub async fn get(State(app): State<AppState>, _root: RootUser, PathId(id): PathId) -> ApiResult {
    match app.db.invitation_code(id).await? {
        Some(row) => Ok(envelope::ok(view(&row))),
        None => Err(ApiError::invalid("Invitation code not found")),
    }
}

async fn page_of(app: &AppState, search: InvitationSearch<'_>, page: Page) -> ApiResult {
    let (rows, total) = app
        .db
        .invitation_codes_page(search, page.offset(), page.size)
        .await?;
    let items: Vec<_> = rows.iter().map(view).collect();
    Ok(envelope::ok(page.body(items, total)))
}
