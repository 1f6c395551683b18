//! `POST /api/models/sync/apply` (also `POST /api/models/sync` and `POST /api/channels/sync`):
//! writes what the preview shows. Each channel's list is replaced only if it did not change
//! since it was read (else that channel reports it and keeps its list); every proxy reloads the
//! changed channels. Model names the synced channels serve that have no record get one (exact
//! name, enabled), so that the catalogue lists what the channels now serve.

use super::{SyncRequest, plan};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::db::{ModelFields, NAME_RULE_EXACT, is_unique_violation, split_list};
use serde_json::json;
use std::collections::BTreeSet;

pub async fn apply(State(app): State<AppState>, _: AdminUser, body: Bytes) -> ApiResult {
    let request = SyncRequest::read(&body)?;
    let mut channels = plan(&app, &request).await?;
    let mut changed = Vec::new();
    for sync in channels.iter_mut().filter(|s| s.error.is_none()) {
        let unchanged = sync.added.is_empty() && sync.removed.is_empty();
        let applied = unchanged
            || app
                .db
                .replace_channel_models(sync.channel_id, &sync.stored_models, &sync.synced_models)
                .await?;
        if applied && !unchanged {
            changed.push(sync.channel_id);
        }
        if !applied {
            sync.error = Some("The channel changed while syncing; preview again".to_string());
        }
        sync.applied = Some(applied);
    }
    super::super::channel::announce(&app, &changed).await?;
    let served: BTreeSet<&str> = channels
        .iter()
        .filter(|sync| sync.applied == Some(true))
        .flat_map(|sync| split_list(&sync.synced_models))
        .collect();
    let mut created = Vec::new();
    for name in app.db.models_without_record().await? {
        if !served.contains(name.as_str()) {
            continue;
        }
        let fields = ModelFields {
            model_name: &name,
            description: "",
            icon: "",
            tags: "",
            vendor_id: 0,
            endpoints: "",
            status: 1,
            sync_official: 1,
            name_rule: NAME_RULE_EXACT,
        };
        match app.db.create_model_record(&fields).await {
            Ok(_) => created.push(name),
            // Created meanwhile by another writer: it has a record, as wanted.
            Err(error) if is_unique_violation(&error) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(envelope::ok(
        json!({ "channels": channels, "created_models": created }),
    ))
}
