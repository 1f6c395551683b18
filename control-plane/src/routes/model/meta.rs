//! What the model records say of a model for `GET /api/pricing`, as new-api's pricing page
//! reads it: each entry's `description`, `icon`, `tags` and `vendor_id` (from the model's own
//! record, else the first name rule that matches it; omitted when empty), and the `vendors`
//! of the listed models. A model whose record is disabled is not listed.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::{ModelRow, VendorRow};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Every record and vendor, read once per request.
pub(crate) struct ModelMeta {
    /// Exact names first, so that a model's own record wins over rules.
    records: Vec<ModelRow>,
    vendors: BTreeMap<i64, VendorRow>,
    /// The vendors of the models described so far.
    used: BTreeSet<i64>,
}

impl ModelMeta {
    pub(crate) async fn load(app: &App) -> Result<Self, ApiError> {
        Ok(Self {
            records: app.db.all_model_records().await?,
            vendors: app
                .db
                .all_vendors()
                .await?
                .into_iter()
                .map(|vendor| (vendor.id, vendor))
                .collect(),
            used: BTreeSet::new(),
        })
    }

    /// Whether `model` is shown: new-api hides a model whose record is disabled.
    pub(crate) fn shown(&self, model: &str) -> bool {
        self.record(model).is_none_or(|record| record.status == 1)
    }

    fn record(&self, model: &str) -> Option<&ModelRow> {
        self.records.iter().find(|r| r.covers(model))
    }

    /// Adds what the records say of `model` to its pricing `entry`.
    pub(crate) fn describe(&mut self, model: &str, entry: &mut Value) {
        let Some(record) = self.record(model) else {
            return;
        };
        let vendor_id = record.vendor_id;
        for (field, text) in [
            ("description", &record.description),
            ("icon", &record.icon),
            ("tags", &record.tags),
        ] {
            if !text.is_empty() {
                entry[field] = json!(text);
            }
        }
        if self.vendors.contains_key(&vendor_id) {
            entry["vendor_id"] = json!(vendor_id);
            self.used.insert(vendor_id);
        }
    }

    /// The vendors of the described models, as new-api lists them.
    pub(crate) fn vendors(&self) -> Vec<Value> {
        self.used
            .iter()
            .filter_map(|id| self.vendors.get(id))
            .map(|vendor| {
                let mut listed = json!({"id": vendor.id, "name": vendor.name});
                if !vendor.description.is_empty() {
                    listed["description"] = json!(vendor.description);
                }
                if !vendor.icon.is_empty() {
                    listed["icon"] = json!(vendor.icon);
                }
                listed
            })
            .collect()
    }
}
