//! new-api's invitation codes: root manages them under `/api/invitation/` (also spelled
//! `/api/invitation-code/`): lists and searches them, creates batches of up to 100 (the codes
//! are answered once and only their hashes kept), renames them or sets their expiry, switches
//! them on or off, deletes one or every used one. `PUT /api/option/invitation-code` sets whether
//! registering needs one and for which methods ([`settings`]); registration uses one up in the
//! transaction that creates the user.

pub mod list;
pub mod manage;
pub mod settings;

use pylon_shared::db::{InvitationCodeRow, now_secs};
use serde_json::{Value, json};

/// A code as new-api shows it (never the code itself: `code_prefix` recognises it).
fn view(row: &InvitationCodeRow) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "code_prefix": row.code_prefix,
        "status": row.status,
        "state": row.state(now_secs()),
        "created_by": row.created_by,
        "used_user_id": row.used_user_id,
        "used_username": row.used_username,
        "created_time": row.created_time,
        "used_time": row.used_time,
        "expired_time": row.expired_time,
    })
}
