//! new-api's official model metadata sync (`SyncUpstreamPreview`, `SyncUpstreamModels`), admin
//! only: the model records and vendors of the catalogue filled from new-api's metadata source
//! (`control_plane.model_metadata_url`, new-api's `SYNC_UPSTREAM_BASE`; [`source`]).
//!
//! `GET /api/models/sync_upstream/preview?locale=` answers the models channels serve that have
//! no record and that the source describes (`missing`), and for each record the source also
//! describes (and `sync_official` not 0), the fields where they differ (`conflicts`); it
//! changes nothing. `POST /api/models/sync_upstream` with `{"overwrite": [{"model_name",
//! "fields": [...]}], "locale"}` (or no body) creates the missing records from the source and
//! overwrites the chosen fields of existing ones, creating the vendors they name, in one
//! transaction. A source that cannot be read (no answer in time, not JSON, not a list of
//! models) is an error that changes nothing.

pub(super) mod apply;
pub(super) mod preview;
mod source;

use pylon_shared::db::MetadataField;
use serde_json::{Value, json};

/// Where an answer's data came from, as new-api reports it.
fn source_of(locale: &str, urls: &source::Urls) -> Value {
    json!({
        "locale": locale,
        "models_url": urls.models,
        "vendors_url": urls.vendors,
    })
}

/// The field new-api names `name` (any case, spaces around ignored).
fn field_named(name: &str) -> Option<MetadataField> {
    let name = name.trim().to_ascii_lowercase();
    MetadataField::ALL.into_iter().find(|f| f.name() == name)
}
