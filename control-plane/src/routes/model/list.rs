//! `GET /api/models/`, `GET /api/models/search` and `GET /api/models/{id}`. Lists filter by
//! `keyword` (in the name, description or tags), `vendor` (an id, or part of a vendor's name)
//! and `status`, newest first; `vendor_counts` counts every record by vendor id.

use super::answer;
use super::enrich::Enrichment;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::pagination::Page;
use axum::extract::{Query, State};
use pylon_shared::db::ModelSearch;
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Deserialize, Default)]
pub struct ModelQuery {
    #[serde(default)]
    keyword: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    status: String,
}

pub async fn all(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(query): Query<ModelQuery>,
) -> ApiResult {
    // new-api's list filters by status only.
    let query = ModelQuery {
        status: query.status,
        ..ModelQuery::default()
    };
    listing(&app, &query, page).await
}

pub async fn search(
    State(app): State<AppState>,
    _: AdminUser,
    page: Page,
    Query(query): Query<ModelQuery>,
) -> ApiResult {
    listing(&app, &query, page).await
}

pub async fn one(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    answer(&app, id).await
}

async fn listing(app: &AppState, query: &ModelQuery, page: Page) -> ApiResult {
    let vendor = query.vendor.trim();
    let status = match query.status.trim() {
        "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!("Invalid parameters: status {text:?} is no number"))
        })?),
    };
    let search = ModelSearch {
        keyword: &query.keyword,
        vendor_id: vendor.parse().ok(),
        vendor_name: (!vendor.is_empty() && vendor.parse::<i64>().is_err()).then_some(vendor),
        status,
    };
    let (rows, total) = app
        .db
        .model_records(&search, page.offset(), page.size)
        .await?;
    let enrichment = Enrichment::load(app).await?;
    let items: Vec<Value> = rows.iter().map(|row| enrichment.view(row)).collect();
    let vendor_counts: Map<String, Value> = app
        .db
        .vendor_model_counts()
        .await?
        .into_iter()
        .map(|(vendor, count)| (vendor.to_string(), json!(count)))
        .collect();
    let mut body = page.body(items, total);
    body["vendor_counts"] = Value::Object(vendor_counts);
    Ok(envelope::ok(body))
}
