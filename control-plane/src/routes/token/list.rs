//! `GET /api/token/?p=&page_size=`: the caller's keys, newest first, masked, one page at a time.

use super::view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::pagination::Page;
use axum::extract::State;
use pylon_shared::db::TokenFilter;

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    page: Page,
) -> ApiResult {
    let (tokens, total) = app
        .db
        .search_user_tokens(
            user.id,
            TokenFilter::default(),
            page.offset(),
            Some(page.size),
        )
        .await?;
    let items = tokens.iter().map(|t| view(&app, t)).collect();
    Ok(envelope::ok(page.body(items, total)))
}
