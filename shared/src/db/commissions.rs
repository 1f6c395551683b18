//! The `referral_commissions` table: what inviters earned on their invitees' paid orders. Rows
//! are written only by the crediting transaction (`payments.rs`), one per order.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

const COLUMNS: &str =
    "id, inviter_id, invitee_id, trade_no, order_quota, rate, commission, created_time";

/// One commission.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CommissionRow {
    pub id: i64,
    pub inviter_id: i64,
    pub invitee_id: i64,
    /// The paid order that earned it.
    pub trade_no: String,
    /// The quota the order credited.
    pub order_quota: i64,
    /// The share applied, as configured then (`0.1`).
    pub rate: String,
    /// The quota credited to the inviter's invitation quota.
    pub commission: i64,
    pub created_time: i64,
}

impl Db {
    /// A page of commissions (of one inviter, or all), newest first, and how many in all.
    pub async fn commissions_page(
        &self,
        inviter_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<CommissionRow>, i64), DbError> {
        // One statement shape for both: "all" is every inviter but the impossible -1.
        let (condition, inviter_id) = match inviter_id {
            Some(id) => ("inviter_id = ?", id),
            None => ("inviter_id <> ?", -1),
        };
        let rows = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM referral_commissions WHERE {condition} \
             ORDER BY id DESC LIMIT ? OFFSET ?"
        )))
        .bind(inviter_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM referral_commissions WHERE {condition}"
        )))
        .bind(inviter_id)
        .fetch_one(self.pool())
        .await?;
        Ok((rows, total))
    }
}
