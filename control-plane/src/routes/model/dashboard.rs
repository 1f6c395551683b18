//! `GET /api/models` (no trailing slash; a signed-in user's, new-api's `DashboardListModels`):
//! the models known per channel type, `{"<type>": ["model", ...]}`, which new-api's console
//! offers when a channel of that type is edited. new-api answers its adaptors' built-in lists;
//! Pylon has none, so a type's list is every model its configured channels list (sorted,
//! without repeats). It differs from `GET /api/user/models`, the models the caller's groups
//! may call, and from the administrators' `GET /api/models/` (with the slash): model meta.

use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::db::split_list;
use std::collections::{BTreeMap, BTreeSet};

pub async fn by_channel_type(State(app): State<AppState>, _user: AuthUser) -> ApiResult {
    let lists = app.db.channel_type_model_lists().await?;
    let mut by_type: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (kind, models) in &lists {
        by_type
            .entry(kind.to_string())
            .or_default()
            .extend(split_list(models));
    }
    Ok(envelope::ok(by_type))
}
