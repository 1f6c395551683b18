//! Settlement dead letters: relay records the database refused again and again, set aside (one
//! row each, the record kept as JSON) so that they stop blocking the records behind them, and
//! listed for administrators.

use super::{Db, DbError, RelayRecord, now_secs};
use sqlx::AssertSqlSafe;

/// One record set aside.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub request_id: String,
    pub user_id: i64,
    pub token_id: i64,
    pub quota: i64,
    pub attempts: i64,
    pub error: String,
    /// The whole record, as JSON.
    pub record: String,
    pub created_at: i64,
}

impl Db {
    /// Whether the database answers at all (tells an outage from a row it refuses).
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// Sets a record aside; a record already set aside stays as it is.
    pub async fn set_aside(
        &self,
        record: &RelayRecord,
        attempts: i64,
        error: &str,
    ) -> Result<(), DbError> {
        let json = serde_json::to_string(record).unwrap_or_else(|_| "{}".into());
        let sql = format!(
            "{} INTO settlement_dead_letters \
             (request_id, user_id, token_id, quota, attempts, error, record, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            self.dialect().insert_ignore()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(&record.request_id)
            .bind(record.user_id)
            .bind(record.token_id)
            .bind(record.quota)
            .bind(attempts)
            .bind(error)
            .bind(json)
            .bind(now_secs())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records set aside, newest first, and how many there are.
    pub async fn dead_letters(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<DeadLetter>, i64), DbError> {
        let rows = sqlx::query_as::<_, DeadLetter>(
            "SELECT id, request_id, user_id, token_id, quota, attempts, error, record, created_at \
             FROM settlement_dead_letters ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlement_dead_letters")
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }
}
