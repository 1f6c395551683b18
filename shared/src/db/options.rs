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

/// One option of a [`Db::swap_options`] batch: its value becomes `new` only if it is still
/// `old` (`None`: the option must not be stored yet).
#[derive(Debug, Clone, Copy)]
pub struct OptionSwap<'a> {
    pub key: &'a str,
    pub old: Option<&'a str>,
    pub new: &'a str,
}

impl Db {
    /// Writes several options together, each only if it still holds the value it was read
    /// with: the options derived from one another (`GroupRatio` and `UserUsableGroups`) change
    /// at once or not at all, and a concurrent writer is never overwritten. False (nothing
    /// written) when another writer came first: read again and retry.
    pub async fn swap_options(&self, swaps: &[OptionSwap<'_>]) -> Result<bool, DbError> {
        for swap in swaps {
            super::check_lengths("options", &[("key", swap.key), ("value", swap.new)])?;
        }
        let mut tx = self.pool().begin().await?;
        for swap in swaps {
            let done = match swap.old {
                Some(old) if old == swap.new => continue,
                Some(old) => {
                    sqlx::query("UPDATE options SET value = ? WHERE `key` = ? AND value = ?")
                        .bind(swap.new)
                        .bind(swap.key)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        == 1
                }
                None => {
                    let exists: Option<String> =
                        sqlx::query_scalar("SELECT value FROM options WHERE `key` = ?")
                            .bind(swap.key)
                            .fetch_optional(&mut *tx)
                            .await?;
                    exists.is_none()
                        && sqlx::query("INSERT INTO options (`key`, value) VALUES (?, ?)")
                            .bind(swap.key)
                            .bind(swap.new)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                            == 1
                }
            };
            if !done {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// One option of a [`Db::move_options`] batch that is removed, only if it still holds the
/// value it was read with.
#[derive(Debug, Clone, Copy)]
pub struct OptionRemoval<'a> {
    pub key: &'a str,
    pub old: &'a str,
}

impl Db {
    /// Sets the options `writes` (creating those missing) and removes `removals`, in one
    /// transaction: for moving settings from old keys to new ones, so that a crash never leaves
    /// both or neither. False (nothing written) when a removed option no longer holds the value
    /// it was read with: another writer came first; read again and retry.
    pub async fn move_options(
        &self,
        writes: &[(&str, &str)],
        removals: &[OptionRemoval<'_>],
    ) -> Result<bool, DbError> {
        for (key, value) in writes {
            super::check_lengths("options", &[("key", key), ("value", value)])?;
        }
        let upsert = format!(
            "INSERT INTO options (`key`, value) VALUES (?, ?) {}",
            self.dialect().upsert_tail("`key`", "value")
        );
        let mut tx = self.pool().begin().await?;
        for removal in removals {
            let removed = sqlx::query("DELETE FROM options WHERE `key` = ? AND value = ?")
                .bind(removal.key)
                .bind(removal.old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        for (key, value) in writes {
            sqlx::query(AssertSqlSafe(upsert.clone()))
                .bind(*key)
                .bind(*value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
