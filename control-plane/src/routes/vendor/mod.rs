//! `/api/vendors/*` (new-api's vendor meta, `AdminAuth`): who makes the models of the
//! catalogue. `GET /api/vendors/` and `GET /api/vendors/search?keyword=` list them by page
//! with each one's `model_count`; `GET /api/vendors/{id}` reads one; `POST /api/vendors/`
//! creates and `PUT /api/vendors/` (id in the body) changes one; `DELETE /api/vendors/{id}`
//! deletes it and leaves its models without a vendor.

pub(super) mod list;
pub(super) mod manage;

use crate::app::AppState;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use pylon_shared::db::VendorRow;
use serde_json::{Value, json};

/// Vendor `id` as it is now, with its model count.
async fn answer(app: &AppState, id: i64) -> ApiResult {
    let row = app
        .db
        .vendor(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Vendor not found"))?;
    let counts = app.db.vendor_model_counts().await?;
    Ok(envelope::ok(view(
        &row,
        counts.get(&id).copied().unwrap_or(0),
    )))
}

/// A vendor as new-api answers it.
fn view(row: &VendorRow, model_count: i64) -> Value {
    json!({
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "icon": row.icon,
        "status": row.status,
        "created_time": row.created_time,
        "updated_time": row.updated_time,
        "model_count": model_count,
    })
}
