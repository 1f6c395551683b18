//! Root's management of custom providers (`/api/custom-oauth-provider/`, new-api's
//! `RootAuth` routes): list, get, create, update (a field left out keeps its value; so does
//! an empty client secret), delete (refused while users are bound to the provider). Answers
//! never carry the client secret. A refused write changes nothing.

use super::config::{Draft, Provider};
use crate::app::AppState;
use crate::auth::RootUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, PathId};
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::db::{ProviderDelete, ProviderWrite};
use serde_json::{Value, json};

const NOT_FOUND: &str = "OAuth provider not found";
const SLUG_TAKEN: &str = "This slug is already in use";

pub async fn list(State(app): State<AppState>, _: RootUser) -> ApiResult {
    let providers: Vec<Value> = app
        .db
        .custom_oauth_providers(false)
        .await?
        .into_iter()
        .map(|row| Provider::from_row(&app, row).view())
        .collect();
    Ok(envelope::ok(providers))
}

pub async fn get(State(app): State<AppState>, _: RootUser, PathId(id): PathId) -> ApiResult {
    let provider = Provider::load(&app, id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    Ok(envelope::ok(provider.view()))
}

pub async fn create(
    State(app): State<AppState>,
    _: RootUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult {
    let mut draft = Draft::from_request(&body)?;
    let kind = draft.validate()?;
    let stored = draft.stored(kind, &app.secrets.key_encryption)?;
    let id = match app.db.create_custom_oauth_provider(stored.fields()).await? {
        ProviderWrite::Done(id) => id,
        ProviderWrite::SlugTaken => return Err(ApiError::invalid(SLUG_TAKEN)),
        ProviderWrite::NotFound => return Err(ApiError::invalid(NOT_FOUND)),
    };
    answer(&app, id, "Created successfully").await
}

pub async fn update(
    State(app): State<AppState>,
    _: RootUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult {
    let provider = Provider::load(&app, id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    let mut draft = Draft::updated(&provider, &body)?;
    let kind = draft.validate()?;
    let stored = draft.stored(kind, &app.secrets.key_encryption)?;
    match app
        .db
        .update_custom_oauth_provider(id, stored.fields())
        .await?
    {
        ProviderWrite::Done(_) => answer(&app, id, "Updated successfully").await,
        ProviderWrite::SlugTaken => Err(ApiError::invalid(SLUG_TAKEN)),
        ProviderWrite::NotFound => Err(ApiError::invalid(NOT_FOUND)),
    }
}

pub async fn delete(State(app): State<AppState>, _: RootUser, PathId(id): PathId) -> ApiResult {
    match app.db.delete_custom_oauth_provider(id).await? {
        ProviderDelete::Deleted => Ok(envelope::ok_message("Deleted successfully")),
        ProviderDelete::NotFound => Err(ApiError::invalid(NOT_FOUND)),
        ProviderDelete::HasBindings => Err(ApiError::invalid(
            "Users are still bound to this OAuth provider, so it cannot be deleted; unbind \
             them first",
        )),
    }
}

/// new-api's answer to a write: its message and the provider as stored.
async fn answer(app: &AppState, id: i64, message: &str) -> ApiResult {
    let provider = Provider::load(app, id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    Ok(
        Json(json!({ "success": true, "message": message, "data": provider.view() }))
            .into_response(),
    )
}
