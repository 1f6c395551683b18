//! The `secrets` table: generated secrets that every node of a MySQL deployment must share.

use sqlx::AssertSqlSafe;

use super::{Db, DbError, now_secs};

impl Db {
    /// The secret called `name`, if one was stored.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Returns the secret called `name`, storing `candidate` first if none exists yet. When
    /// several nodes race, the first insert wins and all of them read it back.
    pub async fn secret_or_insert(&self, name: &str, candidate: &str) -> Result<String, DbError> {
        sqlx::query(AssertSqlSafe(format!(
            "{} INTO secrets (name, value, created_at) VALUES (?, ?, ?)",
            self.dialect().insert_ignore()
        )))
        .bind(name)
        .bind(candidate)
        .bind(now_secs())
        .execute(self.pool())
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = ?")
                .bind(name)
                .fetch_one(self.pool())
                .await?,
        )
    }
}
