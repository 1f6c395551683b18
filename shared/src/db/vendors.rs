//! The `vendors` table (new-api's vendor meta): who makes a model, for the consoles' model
//! catalogue. Names are unique. Deleting a vendor leaves its models without one.

use super::channels::like_escape;
use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

const COLUMNS: &str = "id, name, description, icon, status, created_time, updated_time";

/// One vendor.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VendorRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// An icon name of `@lobehub/icons`, as new-api's console renders it.
    pub icon: String,
    /// 1 enabled (new-api reserves the field).
    pub status: i64,
    pub created_time: i64,
    pub updated_time: i64,
}

/// What an administrator sets on a vendor.
#[derive(Debug, Clone)]
pub struct VendorFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub icon: &'a str,
    pub status: i64,
}

impl Db {
    /// One page of vendors whose name or description contains `keyword` (every vendor when
    /// empty), newest first, and how many match in all.
    pub async fn vendors(
        &self,
        keyword: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<VendorRow>, i64), DbError> {
        let pattern = format!("%{}%", like_escape(keyword.trim()).to_ascii_lowercase());
        let condition = "(LOWER(name) LIKE ? ESCAPE '!' OR LOWER(description) LIKE ? ESCAPE '!')";
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM vendors WHERE {condition}"
        )))
        .bind(&pattern)
        .bind(&pattern)
        .fetch_one(self.pool())
        .await?;
        let rows = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vendors WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        )))
        .bind(&pattern)
        .bind(&pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok((rows, total))
    }

    /// Every vendor, by id.
    pub async fn all_vendors(&self) -> Result<Vec<VendorRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vendors ORDER BY id"
        )));
        self.fetch_decoded("vendors", query).await
    }

    /// One vendor.
    pub async fn vendor(&self, id: i64) -> Result<Option<VendorRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vendors WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The vendor called `name`.
    pub async fn vendor_named(&self, name: &str) -> Result<Option<VendorRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM vendors WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a vendor; answers its id.
    pub async fn create_vendor(&self, fields: &VendorFields<'_>) -> Result<i64, DbError> {
        check_vendor_lengths(fields)?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO vendors (name, description, icon, status, created_time, updated_time) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.icon)
        .bind(fields.status)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces vendor `id`'s fields; answers whether it exists.
    pub async fn update_vendor(&self, id: i64, fields: &VendorFields<'_>) -> Result<bool, DbError> {
        check_vendor_lengths(fields)?;
        let updated = sqlx::query(
            "UPDATE vendors SET name = ?, description = ?, icon = ?, status = ?, \
             updated_time = ? WHERE id = ?",
        )
        .bind(fields.name)
        .bind(fields.description)
        .bind(fields.icon)
        .bind(fields.status)
        .bind(now_secs())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        // MySQL counts only changed rows: an update to the same values still found it.
        Ok(updated == 1 || self.vendor(id).await?.is_some())
    }

    /// Deletes vendor `id` and detaches its models, in one transaction; answers whether it
    /// existed.
    pub async fn delete_vendor(&self, id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM vendors WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if deleted {
            sqlx::query("UPDATE models SET vendor_id = 0 WHERE vendor_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

fn check_vendor_lengths(fields: &VendorFields<'_>) -> Result<(), DbError> {
    super::check_lengths(
        "vendors",
        &[
            ("name", fields.name),
            ("description", fields.description),
            ("icon", fields.icon),
        ],
    )
}
