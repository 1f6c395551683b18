//! `/api/models/*` (new-api's model meta, `AdminAuth`), which is also seed 001's `/api/models`
//! catalogue (same path: new-api's shape is the one served; `GET /api/models` without the
//! trailing slash is new-api's per-channel-type list for signed-in users, [`dashboard`]). `GET /api/models/` and
//! `GET /api/models/search?keyword=&vendor=` list records by page with `vendor_counts`;
//! `GET /api/models/{id}` reads one; `GET /api/models/missing` names the models channels
//! serve that no record names; `POST /api/models/` creates; `PUT /api/models/` (id in the
//! body; `?status_only=true` changes only the status) and seed 001's `PUT /api/models/{id}`
//! change one; `DELETE /api/models/{id}` deletes one. Each answer carries the model's
//! channels, groups and price ([`enrich`]); a
//! request's `pricing` sets the price in the price options ([`pricing_input`]).

pub(super) mod dashboard;
mod enrich;
pub(super) mod list;
pub(super) mod manage;
pub(crate) mod meta;
pub(super) mod missing;
mod pricing_input;

use crate::app::AppState;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use enrich::Enrichment;

/// Model record `id` as it is now.
async fn answer(app: &AppState, id: i64) -> ApiResult {
    let row = app
        .db
        .model_record(id)
        .await?
        .ok_or_else(|| ApiError::invalid("Model not found"))?;
    Ok(envelope::ok(Enrichment::load(app).await?.view(&row)))
}
