//! Seed 001's announcements: administrators list, create, change and delete them
//! (`GET|POST /api/announcements`, `PUT|DELETE /api/announcements/{id}`); everyone reads the
//! enabled ones (`GET /api/public/announcements`). Fields as Veloce names them: `title`,
//! `content`, `enabled`, `sort_order` (lower first), `created_at` / `updated_at` (RFC 3339).

pub mod list;
pub mod manage;

use crate::envelope::rfc3339;
use pylon_shared::db::AnnouncementRow;
use serde_json::{Value, json};

/// An announcement as clients read it.
fn view(row: &AnnouncementRow) -> Value {
    json!({
        "id": row.id,
        "title": row.title,
        "content": row.content,
        "enabled": row.enabled == 1,
        "sort_order": row.sort_order,
        "created_at": rfc3339(row.created_time),
        "updated_at": rfc3339(row.updated_time),
    })
}
