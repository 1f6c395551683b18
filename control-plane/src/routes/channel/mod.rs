//! `/api/channel/*`: the upstream channels, for administrators (new-api's `AdminAuth`; a
//! common user gets "insufficient privileges"). Keys go in but never come out. Every write
//! rewrites the channel's abilities in the same transaction and is announced on the change
//! feed, so that every proxy reloads its routing snapshot.

mod create;
mod delete;
mod delete_batch;
mod delete_disabled;
mod fetch_models;
mod get;
mod input;
mod kinds;
mod list;
mod models;
mod models_enabled;
mod query;
mod search;
mod test;
mod test_all;
mod update;
mod update_balance;
mod update_balance_all;
mod upstream;
mod view;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use axum::Router;
use axum::routing::{MethodRouter, delete, get, post};
use pylon_shared::changes::Topic;
use pylon_shared::db::ChannelRow;

/// The routes, relative to `/api/channel`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", root())
        .route("/search", get(search::search))
        .route("/models", get(models::models))
        .route("/models_enabled", get(models_enabled::models_enabled))
        .route("/fetch_models/{id}", get(fetch_models::fetch_models))
        .route("/test", get(test_all::test_all))
        .route("/test/{id}", get(test::test))
        .route(
            "/update_balance",
            get(update_balance_all::update_balance_all),
        )
        .route("/update_balance/{id}", get(update_balance::update_balance))
        .route("/disabled", delete(delete_disabled::delete_disabled))
        .route("/batch", post(delete_batch::delete_batch))
        .route("/{id}", get(get::get).delete(delete::delete))
        // new-api's console deletes with a trailing slash (gin redirects it; we just answer).
        .route("/{id}/", get(get::get).delete(delete::delete))
}

/// `/api/channel/` itself (list, create, update). Nested at `/api/channel`, `"/"` matches
/// only the path without the trailing slash, which new-api's clients always send: this is
/// also routed at `/api/channel/`.
pub fn root() -> MethodRouter<AppState> {
    get(list::list).post(create::create).put(update::update)
}

/// A channel id from the path.
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid("Channel ID format error"))
}

/// The channel with this id, or new-api's "does not exist" error.
async fn find(app: &AppState, id: i64) -> Result<ChannelRow, ApiError> {
    app.db
        .channel_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Channel does not exist"))
}

/// Tells every process that these channels changed.
async fn announce(app: &AppState, ids: &[i64]) -> ApiResult<()> {
    for id in ids {
        app.changes.publish(Topic::Channel, *id).await?;
    }
    Ok(())
}
