//! Passkeys (WebAuthn, new-api's `/api/user/passkey/*`): a signed-in user registers passkeys,
//! lists and deletes them, and logs in with one without a password (discoverable
//! credentials). Relying party settings are new-api's `passkey.*` options; the routes refuse
//! while `passkey.enabled` is off (listing and deleting still work, as in new-api).
//! Administrators may remove a user's passkeys.

mod admin_reset;
mod ceremony;
mod delete;
mod list;
mod login_begin;
mod login_finish;
mod register_begin;
mod register_finish;
mod relying_party;
mod status;

use crate::app::AppState;
use axum::Router;
use axum::routing::{delete, get, post};
use pylon_shared::db::PasskeyRow;
use serde_json::{Value, json};

/// Passkeys one user may hold (each is checked on every registration).
const MAX_PASSKEYS: usize = 10;
/// `passkeys.name` is VARCHAR(64).
const MAX_NAME_CHARS: usize = 64;
/// The name of a passkey registered without one.
const DEFAULT_NAME: &str = "Passkey";

/// Every passkey route, with full paths.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/user/passkey",
            get(status::status).delete(delete::delete_all),
        )
        .route("/api/user/passkey/{id}", delete(delete::delete_one))
        .route("/api/user/passkeys", get(list::list))
        .route("/api/user/passkeys/{id}", delete(delete::delete_one))
        .route(
            "/api/user/passkey/register/begin",
            post(register_begin::begin),
        )
        .route(
            "/api/user/passkey/register/finish",
            post(register_finish::finish),
        )
        .route("/api/user/passkey/login/begin", post(login_begin::begin))
        .route("/api/user/passkey/login/finish", post(login_finish::finish))
        .route("/api/user/{id}/reset_passkey", delete(admin_reset::reset))
}

/// SHA-256 (hex) of a raw credential id: the unique key it is stored under.
fn credential_hash(raw_id: &[u8]) -> String {
    pylon_shared::crypto::sha256_hex(raw_id)
}

/// A passkey as the list APIs show it (never the public key material).
fn describe(row: &PasskeyRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "credential_id": row.credential_id,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
    })
}
