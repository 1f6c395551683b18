//! `GET /api/user/models[?group=]`: the models the caller can call, as new-api lists them: the
//! distinct models of enabled abilities in the groups the caller may choose (or only in
//! `group`, when it names one of them; `auto` stands for the groups of `AutoGroups`).

use super::groups::{AUTO_GROUP, GroupOptions};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::{Query, State};
use std::collections::HashMap;

pub async fn list(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult {
    let options = GroupOptions::load(&app).await?;
    let user_group = Some(user.group.as_str());
    let selectable = options.selectable(user_group);
    let requested = params.get("group").map(|g| g.trim()).unwrap_or("");
    let groups: Vec<String> = match requested {
        "" => selectable.into_keys().collect(),
        AUTO_GROUP if options.auto_usable(user_group) => options.auto_groups(user_group),
        group if selectable.contains_key(group) => vec![group.to_string()],
        // A group the caller may not use lists nothing, as in new-api.
        _ => Vec::new(),
    };
    let models = app.db.enabled_models_of_groups(&groups).await?;
    Ok(envelope::ok(models))
}
