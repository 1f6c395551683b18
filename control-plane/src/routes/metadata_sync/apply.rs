//! `POST /api/models/sync_upstream` with `{"overwrite": [{"model_name", "fields": [...]}],
//! "locale"}` (or no body): creates a record from the source for each model channels serve
//! without one (those the source does not describe are `skipped_models`), and overwrites the
//! chosen fields (`description`, `icon`, `tags`, `vendor`, `name_rule`, `status`; others are
//! ignored, as new-api ignores fields it does not know) of the named records whose
//! `sync_official` is not 0, creating the vendors they name; one transaction. With nothing
//! missing and nothing to overwrite the source is not read.

use super::preview::unreadable;
use super::source::{self, Urls};
use super::{field_named, source_of};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use crate::extract::parse_json;
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::db::{MetadataOutcome, MetadataOverwrite};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize, Default)]
#[serde(default)]
struct SyncRequest {
    overwrite: Vec<Overwrite>,
    locale: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Overwrite {
    model_name: String,
    fields: Vec<String>,
}

pub async fn apply(State(app): State<AppState>, admin: AdminUser, body: Bytes) -> ApiResult {
    let request: SyncRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SyncRequest::default()
    } else {
        parse_json(&body)?
    };
    let urls = Urls::of(
        &app.config.control_plane.model_metadata_url,
        &request.locale,
    );
    let missing = app.db.models_without_record().await?;
    if missing.is_empty() && request.overwrite.is_empty() {
        return Ok(answer(&MetadataOutcome::default(), &request.locale, &urls));
    }
    let catalogue = match source::read(&app, &urls).await {
        Ok(catalogue) => catalogue,
        Err(error) => return Ok(unreadable(&error, &request.locale, &urls)),
    };
    let mut not_described = Vec::new();
    let creates: Vec<_> = missing
        .into_iter()
        .filter_map(|name| match catalogue.models.get(&name) {
            Some(model) => Some(model.clone()),
            None => {
                not_described.push(name);
                None
            }
        })
        .collect();
    let overwrites: Vec<MetadataOverwrite> = request
        .overwrite
        .iter()
        .filter_map(|ow| {
            let model = catalogue.models.get(&ow.model_name)?;
            let mut fields: Vec<_> = ow.fields.iter().filter_map(|f| field_named(f)).collect();
            fields.dedup();
            Some(MetadataOverwrite {
                model: model.clone(),
                fields,
            })
        })
        .collect();
    let mut outcome = app.db.sync_model_metadata(&creates, &overwrites).await?;
    not_described.append(&mut outcome.skipped);
    outcome.skipped = not_described;
    tracing::info!(
        admin = admin.0.user.id,
        created = outcome.created.len(),
        updated = outcome.updated.len(),
        vendors = outcome.created_vendors,
        "model metadata synced"
    );
    Ok(answer(&outcome, &request.locale, &urls))
}

fn answer(outcome: &MetadataOutcome, locale: &str, urls: &Urls) -> axum::response::Response {
    let data: Value = json!({
        "created_models": outcome.created.len(),
        "created_vendors": outcome.created_vendors,
        "updated_models": outcome.updated.len(),
        "skipped_models": outcome.skipped,
        "created_list": outcome.created,
        "updated_list": outcome.updated,
        "source": source_of(locale, urls),
    });
    envelope::ok(data)
}
