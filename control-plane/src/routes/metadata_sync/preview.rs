//! `GET /api/models/sync_upstream/preview?locale=`: what a sync would create (`missing`) and
//! the fields where existing records differ from the source (`conflicts`); nothing changes.

use super::source::{self, Urls};
use super::source_of;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pylon_shared::db::{MetadataModel, ModelRow, choose_status};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PreviewQuery {
    locale: String,
}

#[derive(Serialize)]
struct Conflict {
    model_name: String,
    fields: Vec<Difference>,
}

#[derive(Serialize)]
struct Difference {
    field: &'static str,
    local: Value,
    upstream: Value,
}

pub async fn preview(
    State(app): State<AppState>,
    _: AdminUser,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> ApiResult {
    let Query(PreviewQuery { locale }) =
        query.map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;
    let urls = Urls::of(&app.config.control_plane.model_metadata_url, &locale);
    let catalogue = match source::read(&app, &urls).await {
        Ok(catalogue) => catalogue,
        Err(error) => return Ok(unreadable(&error, &locale, &urls)),
    };
    let vendor_names: HashMap<i64, String> = app
        .db
        .all_vendors()
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect();
    let conflicts: Vec<Conflict> = app
        .db
        .all_model_records()
        .await?
        .iter()
        .filter(|local| local.sync_official != 0)
        .filter_map(|local| {
            let upstream = catalogue.models.get(&local.model_name)?;
            let local_vendor = vendor_names
                .get(&local.vendor_id)
                .map_or("", String::as_str);
            let fields = differences(local, local_vendor, upstream);
            (!fields.is_empty()).then(|| Conflict {
                model_name: local.model_name.clone(),
                fields,
            })
        })
        .collect();
    let missing: Vec<String> = app
        .db
        .models_without_record()
        .await?
        .into_iter()
        .filter(|name| catalogue.models.contains_key(name))
        .collect();
    Ok(envelope::ok(json!({
        "missing": missing,
        "conflicts": conflicts,
        "source": source_of(&locale, &urls),
    })))
}

/// The fields where record `local` (of vendor `local_vendor`) and the source differ, as
/// new-api compares them (texts without surrounding spaces, the vendor by name, an unset
/// source status as the local one).
fn differences(local: &ModelRow, local_vendor: &str, upstream: &MetadataModel) -> Vec<Difference> {
    let mut fields = Vec::new();
    let upstream_vendor = upstream.vendor.as_ref().map_or("", |v| v.name.as_str());
    for (field, mine, theirs) in [
        (
            "description",
            local.description.as_str(),
            upstream.description.as_str(),
        ),
        ("icon", &local.icon, &upstream.icon),
        ("tags", &local.tags, &upstream.tags),
        ("vendor", local_vendor, upstream_vendor),
    ] {
        if mine.trim() != theirs.trim() {
            fields.push(Difference {
                field,
                local: json!(mine),
                upstream: json!(theirs),
            });
        }
    }
    if local.name_rule != upstream.name_rule {
        fields.push(Difference {
            field: "name_rule",
            local: json!(local.name_rule),
            upstream: json!(upstream.name_rule),
        });
    }
    if local.status != choose_status(upstream.status, local.status) {
        fields.push(Difference {
            field: "status",
            local: json!(local.status),
            upstream: json!(upstream.status),
        });
    }
    fields
}

/// new-api's answer when the source cannot be read.
pub(super) fn unreadable(error: &str, locale: &str, urls: &Urls) -> Response {
    Json(json!({
        "success": false,
        "message": format!("Failed to fetch upstream models: {error}"),
        "locale": locale,
        "source_urls": {"models_url": urls.models, "vendors_url": urls.vendors},
    }))
    .into_response()
}
