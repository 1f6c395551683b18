//! Log retention: request log rows older than a cut-off are deleted a small batch at a time, so
//! that no statement holds locks long enough to stall the settlement writer. The per-hour
//! aggregates are separate tables and stay; everyone's per-minute rows, which only answer the
//! partial hours of a range the logs answered before, go with the logs.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

impl Db {
    /// Deletes up to `batch` log rows created before `cutoff` (unix seconds), oldest first;
    /// answers how many went. Two short statements, portable to both backends: the ids are
    /// read from the time index, then deleted by primary key.
    pub async fn delete_logs_before(&self, cutoff: i64, batch: u32) -> Result<u64, DbError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM logs WHERE created_at < ? ORDER BY created_at LIMIT ?",
        )
        .bind(cutoff)
        .bind(i64::from(batch))
        .fetch_all(self.pool())
        .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("DELETE FROM logs WHERE id IN ({marks})");
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in &ids {
            query = query.bind(*id);
        }
        Ok(query.execute(self.pool()).await?.rows_affected())
    }

    /// Deletes everyone's per-minute usage rows of minutes before `cutoff`, at most an hour of
    /// them per call (the oldest), read and deleted by their primary key; answers how many went.
    pub async fn delete_usage_minutes_before(&self, cutoff: i64) -> Result<u64, DbError> {
        let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(minute) FROM usage_model_minutes")
            .fetch_one(self.pool())
            .await?;
        let Some(oldest) = oldest.filter(|oldest| *oldest < cutoff) else {
            return Ok(0);
        };
        Ok(
            sqlx::query("DELETE FROM usage_model_minutes WHERE minute < ?")
                .bind(cutoff.min(oldest + 3600))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
