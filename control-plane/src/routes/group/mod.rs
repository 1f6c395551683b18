//! Groups: `GET /api/group/` (new-api's `GetGroups`, `AdminAuth`): the names of the groups users
//! can be put in, for the admin console's group pickers; and seed 001's `/api/groups` records
//! ([`manage`]). Both read the options `GroupRatio` and `UserUsableGroups`, the groups' only
//! storage ([`records`]), which `PUT /api/option/` also writes.

pub(super) mod manage;
pub(crate) mod records;

use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use records::GroupOptions;
use std::collections::BTreeSet;

pub(super) async fn list(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    let groups: Vec<String> = known_groups(&app).await?.into_iter().collect();
    Ok(envelope::ok(groups))
}

/// Every group name an administrator may assign, sorted: the groups priced in `GroupRatio`,
/// plus `default` (Pylon ships no default `GroupRatio`, unlike new-api, so it is always
/// offered).
pub(super) async fn known_groups(app: &App) -> Result<BTreeSet<String>, ApiError> {
    Ok(GroupOptions::current(app)
        .records()
        .into_iter()
        .map(|group| group.name)
        .collect())
}
