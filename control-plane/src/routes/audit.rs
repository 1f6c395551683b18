//! `GET /api/audit-log?p&page_size&user_id` (root): the audit log, newest first: every change
//! an administrator asked for, who, the route and path, from where, when, and whether it
//! succeeded (written by the route guard).

use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::pagination::Page;
use axum::extract::{Query, State};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AuditQuery {
    user_id: Option<i64>,
}

pub async fn list(
    State(app): State<AppState>,
    _root: RootUser,
    page: Page,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let (entries, total) = app
        .db
        .audit_page(query.user_id, page.offset(), page.size)
        .await?;
    Ok(envelope::ok(page.body(entries, total)))
}
