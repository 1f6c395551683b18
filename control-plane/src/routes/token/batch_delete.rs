//! `POST /api/token/batch` with `{"ids": [...]}`: deletes those of the ids that are the
//! caller's keys and answers how many that was (others' ids are silently not deleted).

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use axum::body::Bytes;
use axum::extract::State;
use serde::Deserialize;

#[derive(Deserialize)]
struct BatchRequest {
    #[serde(default)]
    ids: Vec<i64>,
}

pub async fn batch_delete(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    // new-api answers a body it cannot read and an empty list alike.
    let ids = parse_json::<BatchRequest>(&body)
        .map(|r| r.ids)
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::invalid("Invalid parameters"));
    }
    let deleted = app.db.delete_user_tokens(user.id, &ids).await?;
    super::after_delete(&app, &deleted).await;
    Ok(envelope::ok(deleted.len()))
}
