//! Changing a user's quota from the control plane: in the database (never below zero unless
//! asked), in the shared admission counter that proxies admit against (Redis), and announced
//! on the change feed, so that every proxy acts on it. Every quota change goes through here.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::changes::Topic;

/// Adds `delta` to the user's quota; returns false (and changes nothing) when the quota would
/// fall below zero and `allow_negative` is false.
pub async fn adjust_user_quota(
    app: &App,
    user_id: i64,
    delta: i64,
    allow_negative: bool,
) -> Result<bool, ApiError> {
    if !app
        .db
        .adjust_user_quota(user_id, delta, allow_negative)
        .await?
    {
        return Ok(false);
    }
    balances::add_stored(&app.cache, Account::User(user_id), delta).await?;
    app.changes.publish(Topic::User, user_id).await?;
    Ok(true)
}
