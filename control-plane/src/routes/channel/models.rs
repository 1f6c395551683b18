//! `GET /api/channel/models`: every model some channel lists, as OpenAI model objects (the
//! shape of new-api's answer), sorted by name.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::split_list;
use serde_json::json;
use std::collections::BTreeSet;

/// The `created` new-api reports for models it does not know.
const CREATED: i64 = 1_626_777_600;

pub async fn models(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let lists = app.db.channel_model_lists().await?;
    let names: BTreeSet<&str> = lists.iter().flat_map(|l| split_list(l)).collect();
    let data: Vec<_> = names
        .into_iter()
        .map(|name| {
            json!({
                "id": name,
                "object": "model",
                "created": CREATED,
                "owned_by": "custom",
                "root": name,
                "parent": null,
            })
        })
        .collect();
    Ok(envelope::ok(data))
}
