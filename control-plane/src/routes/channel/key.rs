//! `POST /api/channel/{id}/key`: a channel's keys as stored (one per line), for the root user
//! who passed secure verification within the last five minutes (new-api's
//! `SecureVerificationRequired`; see `routes::secure_verification`). Never cached; the route
//! table's guard writes every call to the audit log.

use super::find;
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::PathId;
use crate::routes::secure_verification;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::json;

pub async fn reveal(
    State(app): State<AppState>,
    RootUser(root): RootUser,
    PathId(id): PathId,
    headers: HeaderMap,
) -> ApiResult {
    if let Err(refusal) = secure_verification::required(&app, &headers).await {
        return Ok(refusal);
    }
    let row = find(&app, id).await?;
    tracing::warn!(user = root.user.id, channel = id, "channel keys viewed");
    let mut response = envelope::ok(json!({ "key": row.keys }));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
