//! `GET /api/group/` (new-api's `GetGroups`, `AdminAuth`): the names of the groups users can
//! be put in, for the admin console's group pickers. They are the groups priced in the
//! `GroupRatio` option plus `default` (every account's starting group; Pylon ships no default
//! `GroupRatio`, unlike new-api, so it is always offered). Groups are edited through the
//! options `GroupRatio` and `UserUsableGroups` with `PUT /api/option/`.

use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use pylon_shared::pricing::OPTION_GROUP_RATIO;
use std::collections::BTreeSet;

/// The group every account starts in.
const DEFAULT_GROUP: &str = "default";

pub(super) async fn list(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let groups: Vec<String> = known_groups(&app).await?.into_iter().collect();
    Ok(envelope::ok(groups))
}

/// Every group name an administrator may assign, sorted.
pub(super) async fn known_groups(app: &App) -> Result<BTreeSet<String>, ApiError> {
    let mut groups: BTreeSet<String> = app
        .settings
        .now()
        .get(OPTION_GROUP_RATIO)
        .and_then(|json| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).ok()
        })
        .map(|ratios| ratios.into_iter().map(|(name, _)| name).collect())
        .unwrap_or_default();
    groups.insert(DEFAULT_GROUP.to_string());
    Ok(groups)
}
