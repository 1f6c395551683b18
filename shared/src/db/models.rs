//! The `models` table (new-api's model meta): one record per model name, or per name rule
//! (prefix, contains, suffix) covering many, with what the consoles show of it: vendor,
//! description, icon, tags, endpoints, status. Names are unique. Prices are not here: they
//! are the price options, which the relay charges by.

use super::channels::like_escape;
use super::lenient::RawQuery;
use super::{Db, DbError, now_secs};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

const COLUMNS: &str = "id, model_name, description, icon, tags, vendor_id, endpoints, status, \
                       sync_official, name_rule, created_time, updated_time";

/// new-api's name rules: how a record's `model_name` matches model names.
pub const NAME_RULE_EXACT: i64 = 0;
pub const NAME_RULE_PREFIX: i64 = 1;
pub const NAME_RULE_CONTAINS: i64 = 2;
pub const NAME_RULE_SUFFIX: i64 = 3;

/// One model record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ModelRow {
    pub id: i64,
    pub model_name: String,
    pub description: String,
    pub icon: String,
    /// Comma-separated.
    pub tags: String,
    /// 0: no vendor.
    pub vendor_id: i64,
    /// JSON text of the endpoints the model is called at (empty: derived from its channels).
    pub endpoints: String,
    /// 1 enabled, 0 disabled.
    pub status: i64,
    /// 1 when new-api's official metadata sync may overwrite it.
    pub sync_official: i64,
    /// One of the `NAME_RULE_*`.
    pub name_rule: i64,
    pub created_time: i64,
    pub updated_time: i64,
}

impl ModelRow {
    /// Whether the record describes model `name`: its own name, or one its rule matches.
    pub fn covers(&self, name: &str) -> bool {
        let own = self.model_name.as_str();
        match self.name_rule {
            NAME_RULE_EXACT => name == own,
            NAME_RULE_PREFIX => name.starts_with(own),
            NAME_RULE_CONTAINS => name.contains(own),
            NAME_RULE_SUFFIX => name.ends_with(own),
            _ => false,
        }
    }
}

/// What an administrator sets on a model record.
#[derive(Debug, Clone)]
pub struct ModelFields<'a> {
    pub model_name: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    pub tags: &'a str,
    pub vendor_id: i64,
    pub endpoints: &'a str,
    pub status: i64,
    pub sync_official: i64,
    pub name_rule: i64,
}

/// Which model records a list shows.
#[derive(Debug, Clone, Default)]
pub struct ModelSearch<'a> {
    /// Contained in the name, description or tags (any when empty).
    pub keyword: &'a str,
    /// Only this vendor's.
    pub vendor_id: Option<i64>,
    /// Only those of vendors whose name contains this.
    pub vendor_name: Option<&'a str>,
    /// Only this status.
    pub status: Option<i64>,
}

impl Db {
    /// One page of the records `search` selects, newest first, and how many match in all.
    pub async fn model_records(
        &self,
        search: &ModelSearch<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ModelRow>, i64), DbError> {
        let pattern = format!(
            "%{}%",
            like_escape(search.keyword.trim()).to_ascii_lowercase()
        );
        let mut condition = "(LOWER(model_name) LIKE ? ESCAPE '!' OR LOWER(description) LIKE ? \
                             ESCAPE '!' OR LOWER(tags) LIKE ? ESCAPE '!')"
            .to_string();
        let mut texts = vec![pattern.clone(), pattern.clone(), pattern];
        let mut numbers = Vec::new();
        if let Some(vendor_name) = search.vendor_name {
            condition.push_str(
                " AND vendor_id IN (SELECT id FROM vendors WHERE LOWER(name) LIKE ? ESCAPE '!')",
            );
            texts.push(format!(
                "%{}%",
                like_escape(vendor_name.trim()).to_ascii_lowercase()
            ));
        }
        if let Some(vendor_id) = search.vendor_id {
            condition.push_str(" AND vendor_id = ?");
            numbers.push(vendor_id);
        }
        if let Some(status) = search.status {
            condition.push_str(" AND status = ?");
            numbers.push(status);
        }
        let bound = |query: RawQuery<'static>| {
            let query = texts.iter().fold(query, |q, text| q.bind(text.clone()));
            numbers.iter().fold(query, |q, number| q.bind(*number))
        };
        let total: i64 = bound(sqlx::query(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM models WHERE {condition}"
        ))))
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        let page = bound(sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM models WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        ))))
        .bind(limit)
        .bind(offset);
        let rows = self.fetch_decoded("models", page).await?;
        Ok((rows, total))
    }

    /// Every model record, exact names first (a model's own record before the rules that
    /// match it), then by id.
    pub async fn all_model_records(&self) -> Result<Vec<ModelRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM models ORDER BY name_rule, id"
        )));
        self.fetch_decoded("models", query).await
    }

    /// One model record.
    pub async fn model_record(&self, id: i64) -> Result<Option<ModelRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM models WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The record named `model_name`.
    pub async fn model_record_named(&self, model_name: &str) -> Result<Option<ModelRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM models WHERE model_name = ?"
        )))
        .bind(model_name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a model record; answers its id.
    pub async fn create_model_record(&self, fields: &ModelFields<'_>) -> Result<i64, DbError> {
        check_model_lengths(fields)?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let insert = sqlx::query(
            "INSERT INTO models (model_name, description, icon, tags, vendor_id, endpoints, \
             status, sync_official, name_rule, created_time, updated_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        );
        let result = bind_fields(insert, fields)
            .bind(now)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces record `id`'s fields; answers whether it exists.
    pub async fn update_model_record(
        &self,
        id: i64,
        fields: &ModelFields<'_>,
    ) -> Result<bool, DbError> {
        check_model_lengths(fields)?;
        let update = sqlx::query(
            "UPDATE models SET model_name = ?, description = ?, icon = ?, tags = ?, \
             vendor_id = ?, endpoints = ?, status = ?, sync_official = ?, name_rule = ?, \
             updated_time = ? WHERE id = ?",
        );
        let updated = bind_fields(update, fields)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        // MySQL counts only changed rows: an update to the same values still found it.
        Ok(updated == 1 || self.model_record(id).await?.is_some())
    }

    /// Deletes record `id`; answers whether it existed.
    pub async fn delete_model_record(&self, id: i64) -> Result<bool, DbError> {
        Ok(sqlx::query("DELETE FROM models WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected()
            == 1)
    }

    /// How many records each vendor has (vendor id 0: none).
    pub async fn vendor_model_counts(&self) -> Result<BTreeMap<i64, i64>, DbError> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT vendor_id, COUNT(*) FROM models GROUP BY vendor_id")
                .fetch_all(self.pool())
                .await?;
        Ok(rows.into_iter().collect())
    }

    /// The model names some channel serves that no record names exactly (new-api's
    /// `GetMissingModels`), sorted.
    pub async fn models_without_record(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT model FROM abilities WHERE model NOT IN \
             (SELECT model_name FROM models) ORDER BY model",
        )
        .fetch_all(self.pool())
        .await?)
    }
}

/// Binds the fields in the order the INSERT and UPDATE name them.
fn bind_fields<'q>(query: RawQuery<'q>, fields: &ModelFields<'q>) -> RawQuery<'q> {
    query
        .bind(fields.model_name)
        .bind(fields.description)
        .bind(fields.icon)
        .bind(fields.tags)
        .bind(fields.vendor_id)
        .bind(fields.endpoints)
        .bind(fields.status)
        .bind(fields.sync_official)
        .bind(fields.name_rule)
}

fn check_model_lengths(fields: &ModelFields<'_>) -> Result<(), DbError> {
    super::check_lengths(
        "models",
        &[
            ("model_name", fields.model_name),
            ("description", fields.description),
            ("icon", fields.icon),
            ("tags", fields.tags),
            ("endpoints", fields.endpoints),
        ],
    )
}
