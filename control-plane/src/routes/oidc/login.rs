//! Finishing a sign-in flow of a built-in provider (OIDC, or one of `routes::social`): the user
//! holding the provider's id (created when the id is new and registration is open) gets a
//! session exactly as a password login does, and the same answer.

use super::lock;
use super::sign_in_id::{Person, Slot};
use super::signup;
use crate::app::App;
use crate::auth::session;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::custom_oauth::account::Client;
use axum::http::header;
use pylon_shared::db::BindingOwner;
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::json;

/// Signs in as the user of `person` at the provider of `slot`; a sign-up is credited to the
/// invitation code `aff` (the flow's, from `GET /api/oauth/state?aff=`).
pub async fn finish(
    app: &App,
    slot: &Slot,
    person: &Person,
    client: &Client<'_>,
    aff: Option<&str>,
) -> ApiResult {
    let user_id = account_of(app, slot, person, aff).await?;
    start_session(app, user_id, client.ip, client.user_agent).await
}

/// The account `person` signs in as, created when the id is new and registration is open.
async fn account_of(
    app: &App,
    slot: &Slot,
    person: &Person,
    aff: Option<&str>,
) -> Result<i64, ApiError> {
    // A known id signs in without the lock, so that two tabs may sign in at once; only a
    // sign-up must be alone, and looks again once it holds the lock.
    if let Some(id) = owner(app, slot, person).await? {
        return Ok(id);
    }
    lock::with_id(app, slot, &person.id, async {
        match owner(app, slot, person).await? {
            Some(id) => Ok(id),
            None => signup::create(app, slot, person, aff).await,
        }
    })
    .await
}

/// Signs `user_id` in (the account an external provider vouched for): a session exactly as a
/// password login makes, and the same answer. A banned or vanished user is refused.
pub async fn start_session(app: &App, user_id: i64, ip: &str, user_agent: &str) -> ApiResult {
    let user = app.db.user_by_id(user_id).await?.ok_or_else(|| {
        ApiError::invalid("The user bound to this external account was not found")
    })?;
    if user.status != STATUS_ENABLED {
        return Err(ApiError::invalid("User has been banned"));
    }
    let cookie = session::start(app, user.id, ip, user_agent).await?;
    app.db.touch_last_login(user.id).await?;
    let mut response = envelope::ok(json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "group": user.group,
    }));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The live user holding the person's id; an id whose user was deleted is refused (as new-api
/// does) rather than signed up again. An account holding the person's legacy id moves to the
/// current one (new-api's migration of GitHub logins to numeric ids).
pub async fn owner(app: &App, slot: &Slot, person: &Person) -> Result<Option<i64>, ApiError> {
    match app.db.sign_in_owner(slot.column, &person.id).await? {
        Some(BindingOwner::Live(id)) => return Ok(Some(id)),
        Some(BindingOwner::Deleted(_)) => {
            return Err(ApiError::invalid(format!(
                "The user bound to this {} account has been deleted",
                slot.name
            )));
        }
        None => {}
    }
    if let Some(BindingOwner::Live(id)) =
        app.db.sign_in_owner(slot.column, &person.legacy_id).await?
    {
        app.db.bind_sign_in_id(slot.column, id, &person.id).await?;
        tracing::info!(
            user = id,
            provider = slot.name,
            "legacy sign-in id migrated"
        );
        return Ok(Some(id));
    }
    Ok(None)
}
