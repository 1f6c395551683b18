//! The `two_factor` and `two_factor_backup_codes` tables: each user's TOTP secret (sealed by the
//! caller), whether it is enabled, the last accepted time step (replay guard) and the hashed
//! single-use backup codes. Every "use" is a conditional UPDATE, so two concurrent requests can
//! never both spend the same code.

use super::{Db, DbError, now_secs};

/// A user's TOTP setting, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TwoFactorRow {
    pub user_id: i64,
    /// The base32 secret, sealed with `crypto::seal`.
    pub secret: String,
    /// 1 once the user confirmed a code; 0 while setup is pending.
    pub enabled: i64,
    /// The 30-second step of the last accepted code.
    pub last_used_step: i64,
    pub created_at: i64,
    pub enabled_at: i64,
    pub last_used_at: i64,
}

/// An unused backup code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackupCodeRow {
    pub id: i64,
    /// Argon2id PHC string of the normalized code.
    pub code_hash: String,
}

impl Db {
    /// The user's TOTP setting, enabled or pending.
    pub async fn two_factor(&self, user_id: i64) -> Result<Option<TwoFactorRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT user_id, secret, enabled, last_used_step, created_at, enabled_at, \
             last_used_at FROM two_factor WHERE user_id = ?",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// True when the user has confirmed 2FA (a password login then needs a code).
    pub async fn two_factor_enabled(&self, user_id: i64) -> Result<bool, DbError> {
        let enabled: Option<i64> =
            sqlx::query_scalar("SELECT enabled FROM two_factor WHERE user_id = ?")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(enabled == Some(1))
    }

    /// Starts (or restarts) a pending setup: replaces any pending secret and its backup codes.
    /// Returns false, changing nothing, when 2FA is already enabled.
    pub async fn start_two_factor_setup(
        &self,
        user_id: i64,
        sealed_secret: &str,
        code_hashes: &[String],
    ) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let enabled: Option<i64> =
            sqlx::query_scalar("SELECT enabled FROM two_factor WHERE user_id = ?")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if enabled == Some(1) {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM two_factor WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO two_factor (user_id, secret, enabled, last_used_step, created_at) \
             VALUES (?, ?, 0, 0, ?)",
        )
        .bind(user_id)
        .bind(sealed_secret)
        .bind(now_secs())
        .execute(&mut *tx)
        .await?;
        insert_codes(&mut tx, user_id, code_hashes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Enables the pending setup whose sealed secret is `sealed_secret`, recording `step` as
    /// used. False when there is no such pending setup (enabled meanwhile, or replaced by a new
    /// setup whose secret the code was not checked against).
    pub async fn enable_two_factor(
        &self,
        user_id: i64,
        sealed_secret: &str,
        step: i64,
    ) -> Result<bool, DbError> {
        let now = now_secs();
        let result = sqlx::query(
            "UPDATE two_factor SET enabled = 1, enabled_at = ?, last_used_at = ?, \
             last_used_step = ? WHERE user_id = ? AND enabled = 0 AND secret = ? \
             AND last_used_step < ?",
        )
        .bind(now)
        .bind(now)
        .bind(step)
        .bind(user_id)
        .bind(sealed_secret)
        .bind(step)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records that the code of `step` was used. False when that step (or a later one) was
    /// already used: the code is a replay.
    pub async fn consume_totp_step(&self, user_id: i64, step: i64) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE two_factor SET last_used_step = ?, last_used_at = ? \
             WHERE user_id = ? AND enabled = 1 AND last_used_step < ?",
        )
        .bind(step)
        .bind(now_secs())
        .bind(user_id)
        .bind(step)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The user's unused backup codes.
    pub async fn unused_backup_codes(&self, user_id: i64) -> Result<Vec<BackupCodeRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, code_hash FROM two_factor_backup_codes \
             WHERE user_id = ? AND used_at = 0 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Spends the user's backup code `id`. False when it was spent meanwhile.
    pub async fn consume_backup_code(&self, user_id: i64, id: i64) -> Result<bool, DbError> {
        let now = now_secs();
        let result = sqlx::query(
            "UPDATE two_factor_backup_codes SET used_at = ? \
             WHERE id = ? AND user_id = ? AND used_at = 0",
        )
        .bind(now.max(1))
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        if result.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE two_factor SET last_used_at = ? WHERE user_id = ?")
            .bind(now)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(true)
    }

    /// How many backup codes the user has left.
    pub async fn count_unused_backup_codes(&self, user_id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM two_factor_backup_codes WHERE user_id = ? AND used_at = 0",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// Replaces every backup code of the user with `code_hashes`.
    pub async fn replace_backup_codes(
        &self,
        user_id: i64,
        code_hashes: &[String],
    ) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        insert_codes(&mut tx, user_id, code_hashes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the user's 2FA setting (enabled or pending) and backup codes. False when there
    /// was none.
    pub async fn delete_two_factor(&self, user_id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM two_factor_backup_codes WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let result = sqlx::query("DELETE FROM two_factor WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(result.rows_affected() > 0)
    }

    /// (live users, users with 2FA enabled), for the admin statistics.
    pub async fn two_factor_stats(&self) -> Result<(i64, i64), DbError> {
        let users = self.count_live_users().await?;
        let enabled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM two_factor t JOIN users u ON u.id = t.user_id \
             WHERE t.enabled = 1 AND u.deleted_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((users, enabled))
    }
}

/// Deletes the user's backup codes and inserts `code_hashes`, inside `tx`.
async fn insert_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: i64,
    code_hashes: &[String],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM two_factor_backup_codes WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    let now = now_secs();
    for hash in code_hashes {
        sqlx::query(
            "INSERT INTO two_factor_backup_codes (user_id, code_hash, used_at, created_at) \
             VALUES (?, ?, 0, ?)",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
