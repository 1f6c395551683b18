//! Writing new-api's official model metadata into the `models` and `vendors` tables (its
//! `SyncUpstreamModels`): records created for models that have none, chosen fields of existing
//! records overwritten, and the vendors they name created when missing, all in one transaction
//! so that a failure leaves the catalogue as it was. Records whose `sync_official` is 0 are
//! never touched.

use super::{Db, DbError, now_secs};
use sqlx::{Any, Transaction};
use std::collections::HashMap;

/// A vendor as the metadata source describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataVendor {
    pub name: String,
    pub description: String,
    pub icon: String,
    /// The source's status (0: unset).
    pub status: i64,
}

/// A model as the metadata source describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataModel {
    pub model_name: String,
    pub description: String,
    pub icon: String,
    pub tags: String,
    /// Its vendor (`None`: none named).
    pub vendor: Option<MetadataVendor>,
    /// The source's status (0: unset).
    pub status: i64,
    pub name_rule: i64,
}

/// A field of a record that a sync may overwrite, as new-api names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataField {
    Description,
    Icon,
    Tags,
    Vendor,
    NameRule,
    Status,
}

impl MetadataField {
    /// Every field, in new-api's order.
    pub const ALL: [MetadataField; 6] = [
        Self::Description,
        Self::Icon,
        Self::Tags,
        Self::Vendor,
        Self::NameRule,
        Self::Status,
    ];

    /// new-api's name of the field.
    pub fn name(self) -> &'static str {
        match self {
            Self::Description => "description",
            Self::Icon => "icon",
            Self::Tags => "tags",
            Self::Vendor => "vendor",
            Self::NameRule => "name_rule",
            Self::Status => "status",
        }
    }
}

/// Fields of an existing record to set from the source.
#[derive(Debug, Clone)]
pub struct MetadataOverwrite {
    pub model: MetadataModel,
    pub fields: Vec<MetadataField>,
}

/// What a sync wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataOutcome {
    /// Records created, in the order asked.
    pub created: Vec<String>,
    /// Records overwritten.
    pub updated: Vec<String>,
    /// Records not created: one exists by now.
    pub skipped: Vec<String>,
    /// How many vendors were created.
    pub created_vendors: i64,
}

/// The fields of a record a sync may overwrite.
#[derive(sqlx::FromRow)]
struct Record {
    id: i64,
    sync_official: i64,
    description: String,
    icon: String,
    tags: String,
    vendor_id: i64,
    name_rule: i64,
    status: i64,
}

/// new-api's `chooseStatus`: the source's status, else `fallback`, else enabled.
pub fn choose_status(source: i64, fallback: i64) -> i64 {
    match (source, fallback) {
        (0, 0) => 1,
        (0, fallback) => fallback,
        (source, _) => source,
    }
}

impl Db {
    /// Creates the records `creates` (each skipped when a record of its name exists by now)
    /// and overwrites `overwrites`' fields of existing records whose `sync_official` is not 0,
    /// creating the vendors they name that do not exist; all or nothing.
    pub async fn sync_model_metadata(
        &self,
        creates: &[MetadataModel],
        overwrites: &[MetadataOverwrite],
    ) -> Result<MetadataOutcome, DbError> {
        let mut outcome = MetadataOutcome::default();
        let mut vendor_ids: HashMap<String, i64> = HashMap::new();
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        for model in creates {
            check_model(model)?;
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM models WHERE model_name = ?")
                    .bind(&model.model_name)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_some() {
                outcome.skipped.push(model.model_name.clone());
                continue;
            }
            let vendor_id = self
                .vendor_id(
                    &mut tx,
                    model.vendor.as_ref(),
                    &mut vendor_ids,
                    &mut outcome,
                )
                .await?;
            sqlx::query(
                "INSERT INTO models (model_name, description, icon, tags, vendor_id, endpoints, \
                 status, sync_official, name_rule, created_time, updated_time) \
                 VALUES (?, ?, ?, ?, ?, '', ?, 1, ?, ?, ?)",
            )
            .bind(&model.model_name)
            .bind(&model.description)
            .bind(&model.icon)
            .bind(&model.tags)
            .bind(vendor_id)
            .bind(choose_status(model.status, 1))
            .bind(model.name_rule)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            outcome.created.push(model.model_name.clone());
        }
        for overwrite in overwrites {
            let model = &overwrite.model;
            check_model(model)?;
            let local: Option<Record> = sqlx::query_as(
                "SELECT id, sync_official, description, icon, tags, vendor_id, name_rule, status \
                 FROM models WHERE model_name = ?",
            )
            .bind(&model.model_name)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(mut row) = local else {
                continue;
            };
            if row.sync_official == 0 || overwrite.fields.is_empty() {
                continue;
            }
            for field in &overwrite.fields {
                match field {
                    MetadataField::Description => row.description.clone_from(&model.description),
                    MetadataField::Icon => row.icon.clone_from(&model.icon),
                    MetadataField::Tags => row.tags.clone_from(&model.tags),
                    MetadataField::Vendor => {
                        row.vendor_id = self
                            .vendor_id(
                                &mut tx,
                                model.vendor.as_ref(),
                                &mut vendor_ids,
                                &mut outcome,
                            )
                            .await?;
                    }
                    MetadataField::NameRule => row.name_rule = model.name_rule,
                    MetadataField::Status => row.status = choose_status(model.status, row.status),
                }
            }
            sqlx::query(
                "UPDATE models SET description = ?, icon = ?, tags = ?, vendor_id = ?, \
                 name_rule = ?, status = ?, updated_time = ? WHERE id = ?",
            )
            .bind(&row.description)
            .bind(&row.icon)
            .bind(&row.tags)
            .bind(row.vendor_id)
            .bind(row.name_rule)
            .bind(row.status)
            .bind(now)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
            outcome.updated.push(model.model_name.clone());
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// The id of the vendor `vendor` names, created from it when missing (0: none named).
    async fn vendor_id(
        &self,
        tx: &mut Transaction<'static, Any>,
        vendor: Option<&MetadataVendor>,
        known: &mut HashMap<String, i64>,
        outcome: &mut MetadataOutcome,
    ) -> Result<i64, DbError> {
        let Some(vendor) = vendor.filter(|v| !v.name.is_empty()) else {
            return Ok(0);
        };
        if let Some(id) = known.get(&vendor.name) {
            return Ok(*id);
        }
        super::check_lengths(
            "vendors",
            &[
                ("name", &vendor.name),
                ("description", &vendor.description),
                ("icon", &vendor.icon),
            ],
        )?;
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM vendors WHERE name = ?")
            .bind(&vendor.name)
            .fetch_optional(&mut **tx)
            .await?;
        let id = match found {
            Some(id) => id,
            None => {
                let now = now_secs();
                let result = sqlx::query(
                    "INSERT INTO vendors (name, description, icon, status, created_time, \
                     updated_time) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(&vendor.name)
                .bind(&vendor.description)
                .bind(&vendor.icon)
                .bind(choose_status(vendor.status, 1))
                .bind(now)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                outcome.created_vendors += 1;
                super::inserted_id(tx, self.dialect(), &result).await?
            }
        };
        known.insert(vendor.name.clone(), id);
        Ok(id)
    }
}

fn check_model(model: &MetadataModel) -> Result<(), DbError> {
    super::check_lengths(
        "models",
        &[
            ("model_name", &model.model_name),
            ("description", &model.description),
            ("icon", &model.icon),
            ("tags", &model.tags),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::choose_status;

    #[test]
    fn status_falls_back_as_new_api_chooses_it() {
        assert_eq!(choose_status(2, 1), 2);
        assert_eq!(choose_status(0, 0), 1);
        assert_eq!(choose_status(0, 3), 3);
    }
}
