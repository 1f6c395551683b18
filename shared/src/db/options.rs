//! The `options` table: operator settings as key/value text, as new-api stores them.

use sqlx::AssertSqlSafe;

use super::{Db, DbError};

impl Db {
    /// Every option.
    pub async fn all_options(&self) -> Result<Vec<(String, String)>, DbError> {
        Ok(sqlx::query_as("SELECT `key`, value FROM options")
            .fetch_all(self.pool())
            .await?)
    }

    /// One option, if set.
    pub async fn option(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM options WHERE `key` = ?")
                .bind(key)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Sets an option, creating it when missing.
    pub async fn set_option(&self, key: &str, value: &str) -> Result<(), DbError> {
        let sql = format!(
            "INSERT INTO options (`key`, value) VALUES (?, ?) {}",
            self.dialect().upsert_tail("`key`", "value")
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(key)
            .bind(value)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
