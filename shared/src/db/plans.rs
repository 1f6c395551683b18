//! The `plans` table: products on sale with a quota and a price (seed 002's plans), managed by
//! administrators. An order for a plan copies its quota and price (see `top_ups.rs`), so
//! editing or deleting a plan changes no order.

use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

const COLUMNS: &str = "id, code, name, description, quota, price_cents, currency, enabled, \
    sort_order, created_time, updated_time, original_price_cents";

/// One plan.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    /// The client-facing id (`starter_monthly`), unique.
    pub code: String,
    pub name: String,
    pub description: String,
    /// The quota an order of the plan credits.
    pub quota: i64,
    /// The price in cents of `currency`.
    pub price_cents: i64,
    pub currency: String,
    /// 1 on sale, 0 withdrawn.
    pub enabled: i64,
    /// Lower first in lists.
    pub sort_order: i64,
    pub created_time: i64,
    pub updated_time: i64,
    /// The price shown struck through beside `price_cents` (0: none), display only.
    pub original_price_cents: i64,
}

/// What an administrator sets on a plan.
#[derive(Debug, Clone)]
pub struct PlanFields<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub quota: i64,
    pub price_cents: i64,
    pub currency: &'a str,
    pub enabled: bool,
    pub sort_order: i64,
    pub original_price_cents: i64,
}

impl PlanFields<'_> {
    fn check_lengths(&self) -> Result<(), DbError> {
        super::check_lengths(
            "plans",
            &[
                ("code", self.code),
                ("name", self.name),
                ("description", self.description),
                ("currency", self.currency),
            ],
        )
    }
}

impl Db {
    /// Every plan (or only those on sale), in display order.
    pub async fn plans(&self, enabled_only: bool) -> Result<Vec<PlanRow>, DbError> {
        let condition = if enabled_only { "enabled = 1" } else { "1 = 1" };
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM plans WHERE {condition} ORDER BY sort_order, id"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// One plan by its numeric id or its code.
    pub async fn plan(&self, id_or_code: &str) -> Result<Option<PlanRow>, DbError> {
        let id = id_or_code.parse::<i64>().unwrap_or(-1);
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM plans WHERE id = ? OR code = ? ORDER BY id LIMIT 1"
        )))
        .bind(id)
        .bind(id_or_code)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a plan; answers its id. A taken code is a unique violation.
    pub async fn create_plan(&self, plan: &PlanFields<'_>) -> Result<i64, DbError> {
        plan.check_lengths()?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO plans (code, name, description, quota, price_cents, currency, enabled, \
             sort_order, created_time, updated_time, original_price_cents) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(plan.code)
        .bind(plan.name)
        .bind(plan.description)
        .bind(plan.quota)
        .bind(plan.price_cents)
        .bind(plan.currency)
        .bind(i64::from(plan.enabled))
        .bind(plan.sort_order)
        .bind(now)
        .bind(now)
        .bind(plan.original_price_cents)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces plan `id`'s fields; answers whether it exists.
    pub async fn update_plan(&self, id: i64, plan: &PlanFields<'_>) -> Result<bool, DbError> {
        plan.check_lengths()?;
        let updated = sqlx::query(
            "UPDATE plans SET code = ?, name = ?, description = ?, quota = ?, price_cents = ?, \
             currency = ?, enabled = ?, sort_order = ?, updated_time = ?, \
             original_price_cents = ? WHERE id = ?",
        )
        .bind(plan.code)
        .bind(plan.name)
        .bind(plan.description)
        .bind(plan.quota)
        .bind(plan.price_cents)
        .bind(plan.currency)
        .bind(i64::from(plan.enabled))
        .bind(plan.sort_order)
        .bind(now_secs())
        .bind(plan.original_price_cents)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        // MySQL counts only changed rows: an update to the same values still found the plan.
        Ok(updated == 1
            || self
                .plan(&id.to_string())
                .await?
                .is_some_and(|p| p.id == id))
    }

    /// Deletes plan `id`; answers whether it existed.
    pub async fn delete_plan(&self, id: i64) -> Result<bool, DbError> {
        Ok(sqlx::query("DELETE FROM plans WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected()
            == 1)
    }
}
