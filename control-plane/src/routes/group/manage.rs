//! Seed 001's groups: `GET /api/groups` lists them (administrators), `POST /api/groups`
//! creates one, `PUT /api/groups/{name}` changes its ratio, description or whether users may
//! select it, `DELETE /api/groups/{name}` removes it. A group's name is its id (accounts, keys
//! and channels name their groups); it cannot be renamed, nor deleted while accounts or keys
//! are in it. Writes change prices, so they are the root user's, as every option is in
//! new-api. Bad input is refused with its reason and changes nothing. Storage: see
//! [`super::records`].

use super::records::{self, AUTO_GROUP, DEFAULT_GROUP, GroupOptions, GroupRecord};
use crate::app::AppState;
use crate::auth::{AdminUser, RootUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::Number;

/// The longest description users see in the group picker, in characters.
const MAX_DESCRIPTION_CHARS: usize = 255;

/// The fields a request sets; absent ones keep their value (or their default when creating:
/// ratio 1, not selectable).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    name: Option<String>,
    description: Option<String>,
    ratio: Option<Number>,
    user_selectable: Option<bool>,
    /// Answered by the list; accepted back unchanged (it must be the name).
    id: Option<String>,
}

pub async fn list(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    Ok(envelope::ok(GroupOptions::current(&app).records()))
}

pub async fn create(
    State(app): State<AppState>,
    _: RootUser,
    ApiJson(input): ApiJson<GroupInput>,
) -> ApiResult {
    let name = input.name.clone().unwrap_or_default();
    check_name(&name)?;
    let wanted = wanted(&input, None)?;
    let record = records::change(&app, |options| {
        if options.record(&name).is_some() {
            return Err(ApiError::invalid(format!("Group {name} already exists")));
        }
        apply(options, &name, &wanted)
    })
    .await?;
    Ok(envelope::ok(record))
}

pub async fn update(
    State(app): State<AppState>,
    _: RootUser,
    Path(name): Path<String>,
    ApiJson(input): ApiJson<GroupInput>,
) -> ApiResult {
    for given in [&input.name, &input.id].into_iter().flatten() {
        if *given != name {
            return Err(ApiError::invalid(
                "A group cannot be renamed: accounts, keys and channels name it",
            ));
        }
    }
    let record = records::change(&app, |options| {
        let stored = options
            .record(&name)
            .ok_or_else(|| ApiError::invalid("Group not found"))?;
        let wanted = wanted(&input, Some(&stored))?;
        apply(options, &name, &wanted)
    })
    .await?;
    Ok(envelope::ok(record))
}

pub async fn delete(
    State(app): State<AppState>,
    _: RootUser,
    Path(name): Path<String>,
) -> ApiResult {
    if name == DEFAULT_GROUP {
        return Err(ApiError::invalid(
            "The default group cannot be deleted: every new account starts in it",
        ));
    }
    // Accounts and keys in a deleted group would be priced at ratio 1 and routed nowhere.
    let members = app.db.users_in_group(&name).await?;
    if members > 0 {
        return Err(ApiError::invalid(format!(
            "{members} users are in group {name}: move them to another group first"
        )));
    }
    let keys = app.db.tokens_in_group(&name).await?;
    if keys > 0 {
        return Err(ApiError::invalid(format!(
            "{keys} keys use group {name}: change their group first"
        )));
    }
    records::change(&app, |options| {
        options
            .record(&name)
            .ok_or_else(|| ApiError::invalid("Group not found"))?;
        options.remove(&name);
        Ok(())
    })
    .await?;
    Ok(envelope::ok_message(""))
}

/// A group's fields once a request is applied.
struct Wanted {
    ratio: Number,
    /// The description users see, when they may select the group.
    selectable: Option<String>,
}

/// The fields `input` asks for over `stored` (or the defaults of a new group), checked.
fn wanted(input: &GroupInput, stored: Option<&GroupRecord>) -> Result<Wanted, ApiError> {
    let ratio = input
        .ratio
        .clone()
        .or_else(|| stored.map(|s| s.ratio.clone()))
        .unwrap_or_else(|| Number::from(1));
    if !ratio.as_f64().is_some_and(|r| r.is_finite() && r >= 0.0) {
        return Err(ApiError::invalid(format!(
            "The ratio must be a non-negative number, not {ratio}"
        )));
    }
    let selectable = input
        .user_selectable
        .or(stored.map(|s| s.user_selectable))
        .unwrap_or(false);
    let description = input
        .description
        .clone()
        .or_else(|| stored.map(|s| s.description.clone()))
        .unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid(format!(
            "The description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if !selectable && !description.is_empty() && input.description.is_some() {
        return Err(ApiError::invalid(
            "A description is shown only for groups users may select (new-api keeps it in \
             UserUsableGroups): set user_selectable to true",
        ));
    }
    Ok(Wanted {
        ratio,
        selectable: selectable.then_some(description),
    })
}

/// Writes `wanted` as group `name` and answers the group as it now is.
fn apply(options: &mut GroupOptions, name: &str, wanted: &Wanted) -> Result<GroupRecord, ApiError> {
    options.set(name, wanted.ratio.clone(), wanted.selectable.clone());
    options
        .record(name)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("group {name} vanished")))
}

/// A name a group can have: what an account's `group` column holds, without the separators
/// of channel group lists.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(ApiError::invalid(
            "The group name must not be empty or start or end with spaces",
        ));
    }
    if name.contains(',') {
        return Err(ApiError::invalid(
            "The group name must not contain a comma (channels list groups separated by commas)",
        ));
    }
    if name == AUTO_GROUP {
        return Err(ApiError::invalid(
            "auto is new-api's automatic group, configured by the AutoGroups option",
        ));
    }
    pylon_shared::db::check_lengths("users", &[("group", name)])?;
    Ok(())
}
