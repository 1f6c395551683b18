//! Finishing a binding flow of a built-in provider (OIDC, or one of `routes::social`): the
//! provider's id goes into the account's column, unless another user (live or deleted, as
//! new-api counts them) already holds it or its legacy id.

use super::lock;
use super::sign_in_id::{Person, Slot};
use crate::app::App;
use crate::error::ApiError;
use axum::Json;
use axum::response::{IntoResponse, Response};
use pylon_shared::db::BindingOwner;
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::json;

/// Binds the id of `person` at the provider of `slot` to `user_id`, who asked for it.
pub async fn finish(app: &App, slot: &Slot, user_id: i64, person: &Person) -> Result<(), ApiError> {
    lock::with_id(app, slot, &person.id, async {
        for id in [&person.id, &person.legacy_id] {
            match app.db.sign_in_owner(slot.column, id).await? {
                // Binding again what is already bound changes nothing.
                Some(BindingOwner::Live(owner)) if owner == user_id => {}
                Some(_) => {
                    return Err(ApiError::invalid(format!(
                        "This {} account is already bound to another user",
                        slot.name
                    )));
                }
                None => {}
            }
        }
        let user = app.db.user_by_id(user_id).await?;
        if user.is_none_or(|u| u.status != STATUS_ENABLED) {
            return Err(ApiError::invalid("User has been banned or deleted"));
        }
        if !app
            .db
            .bind_sign_in_id(slot.column, user_id, &person.id)
            .await?
        {
            return Err(ApiError::invalid("User has been banned or deleted"));
        }
        tracing::info!(
            user = user_id,
            provider = slot.name,
            "sign-in account bound"
        );
        Ok(())
    })
    .await
}

/// new-api's answer to a finished binding: `message` "bind", which its console checks.
pub fn bound() -> Response {
    Json(json!({
        "success": true,
        "message": "bind",
        "data": { "action": "bind" },
    }))
    .into_response()
}
