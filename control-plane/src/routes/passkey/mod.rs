//! Passkeys (WebAuthn, new-api's `/api/user/passkey/*`): a signed-in user registers passkeys,
//! lists and deletes them, logs in with one without a password (discoverable credentials), and
//! proves it is them again before a sensitive action (secure verification,
//! `/api/user/passkey/verify/*`). Relying party settings are new-api's `passkey.*` options; the
//! routes refuse while `passkey.enabled` is off (listing and deleting still work, as in new-api).
//! Administrators may remove a user's passkeys.

pub(super) mod admin_reset;
pub(super) mod ceremony;
pub(super) mod delete;
pub(super) mod list;
pub(super) mod login_begin;
pub(super) mod login_finish;
pub(super) mod register_begin;
pub(super) mod register_finish;
pub(super) mod relying_party;
pub(super) mod status;
pub(super) mod verify_begin;
pub(super) mod verify_finish;

use pylon_shared::db::PasskeyRow;
use serde_json::{Value, json};

/// Passkeys one user may hold (each is checked on every registration).
const MAX_PASSKEYS: usize = 10;
/// `passkeys.name` is VARCHAR(64).
const MAX_NAME_CHARS: usize = 64;
/// The name of a passkey registered without one.
const DEFAULT_NAME: &str = "Passkey";

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
