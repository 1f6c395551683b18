//! `GET /api/announcements` (administrators: every announcement) and
//! `GET /api/public/announcements` (anyone: the enabled ones), in display order.

use super::view;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn all(State(app): State<AppState>, _admin: AdminUser) -> ApiResult {
    let rows = app.db.announcements(false).await?;
    Ok(envelope::ok(rows.iter().map(view).collect::<Vec<_>>()))
}

pub async fn public(State(app): State<AppState>) -> ApiResult {
    let rows = app.db.announcements(true).await?;
    Ok(envelope::ok(rows.iter().map(view).collect::<Vec<_>>()))
}
