//! `GET /api/plans` (the plans on sale; administrators also see withdrawn ones with `?all=1`)
//! and `GET /api/plans/{id}` (by numeric id or code; a withdrawn plan only for
//! administrators).

use super::view;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, Query, State};
use pylon_shared::roles::ROLE_ADMIN;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    all: String,
}

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let everything = user.role >= ROLE_ADMIN && matches!(query.all.as_str(), "1" | "true");
    let plans = app.db.plans(!everything).await?;
    Ok(envelope::ok(plans.iter().map(view).collect::<Vec<_>>()))
}

pub async fn get_one(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Path(id): Path<String>,
) -> ApiResult {
    match app.db.plan(id.trim()).await? {
        Some(plan) if plan.enabled == 1 || user.role >= ROLE_ADMIN => Ok(envelope::ok(view(&plan))),
        _ => Err(ApiError::invalid("The plan does not exist")),
    }
}
