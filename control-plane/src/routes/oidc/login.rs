//! Finishing a sign-in flow: the user bound to the subject (created when the subject is new and
//! registration is open) gets a session exactly as a password login does, and the same answer.

use super::lock;
use super::provider::Identity;
use super::settings::Settings;
use super::signup;
use crate::app::App;
use crate::auth::session;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::http::header;
use pylon_shared::db::OidcOwner;
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::json;

/// Signs in as the user of `identity`.
pub async fn finish(
    app: &App,
    settings: &Settings,
    identity: &Identity,
    ip: &str,
    user_agent: &str,
) -> ApiResult {
    // A known subject signs in without the lock, so that two tabs may sign in at once; only
    // a sign-up must be alone, and looks again once it holds the lock.
    let user_id = match owner(app, identity).await? {
        Some(id) => id,
        None => {
            lock::with_subject(app, &identity.sub, async {
                match owner(app, identity).await? {
                    Some(id) => Ok(id),
                    None if !settings.register_enabled => Err(ApiError::invalid(
                        "New user registration has been disabled by the administrator",
                    )),
                    None => signup::create(app, identity, settings.quota_for_new_user).await,
                }
            })
            .await?
        }
    };

    start_session(app, user_id, ip, user_agent).await
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

/// The live user bound to the subject; a subject whose user was deleted is refused (as
/// new-api does) rather than signed up again.
async fn owner(app: &App, identity: &Identity) -> Result<Option<i64>, ApiError> {
    match app.db.oidc_owner(&identity.sub).await? {
        Some(OidcOwner::Live(id)) => Ok(Some(id)),
        Some(OidcOwner::Deleted(_)) => Err(ApiError::invalid(
            "The user bound to this OIDC account has been deleted",
        )),
        None => Ok(None),
    }
}
