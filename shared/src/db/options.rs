//! The `options` table: operator settings as key/value text, as new-api stores them.

use sqlx::AssertSqlSafe;

use super::{Db, DbError};

impl Db {
    /// Every option.
    pub async fn all_options(&self) -> Result<Vec<(String, String)>, DbError> {
        let query = sqlx::query("SELECT `key` AS id, value FROM options");
        self.fetch_decoded("options", query).await
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
        super::check_lengths("options", &[("key", key), ("value", value)])?;
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

    /// Replaces the option's value with `new` only if it is still `old` (a compare-and-set,
    /// so that rewriting a value in place never overwrites a concurrent change). True when
    /// replaced.
    pub async fn replace_option_if(
        &self,
        key: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, DbError> {
        super::check_lengths("options", &[("key", key), ("value", new)])?;
        let done = sqlx::query("UPDATE options SET value = ? WHERE `key` = ? AND value = ?")
            .bind(new)
            .bind(key)
            .bind(old)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
