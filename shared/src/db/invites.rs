//! Invitations on the `users` table: a user's own invitation code (`aff_code`, unique) and the
//! invitation quota (`aff_quota`) earned by inviting others, which the user may move to quota.

use super::{Db, DbError};

/// What became of an attempt to give a user an invitation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AffCodeOutcome {
    /// The code was stored.
    Set,
    /// The user already had a code (perhaps set by a concurrent request): this one.
    Existing(String),
    /// Another user holds this code: try another.
    Taken,
    /// No such live user.
    NoUser,
}

impl Db {
    /// Gives a live user `code` unless the user already has one. Race-safe: of two concurrent
    /// calls only the first stores its code, and the second reads that one back.
    pub async fn set_aff_code_if_missing(
        &self,
        user_id: i64,
        code: &str,
    ) -> Result<AffCodeOutcome, DbError> {
        let result = sqlx::query(
            "UPDATE users SET aff_code = ? \
             WHERE id = ? AND deleted_at IS NULL AND (aff_code IS NULL OR aff_code = '')",
        )
        .bind(code)
        .bind(user_id)
        .execute(self.pool())
        .await;
        match result {
            Ok(done) if done.rows_affected() == 1 => Ok(AffCodeOutcome::Set),
            Ok(_) => {
                let existing: Option<Option<String>> = sqlx::query_scalar(
                    "SELECT aff_code FROM users WHERE id = ? AND deleted_at IS NULL",
                )
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
                Ok(match existing {
                    Some(Some(code)) if !code.is_empty() => AffCodeOutcome::Existing(code),
                    // Cleared again in between: the caller may simply retry.
                    Some(_) => AffCodeOutcome::Taken,
                    None => AffCodeOutcome::NoUser,
                })
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(AffCodeOutcome::Taken),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes `amount` (> 0) out of a live user's invitation quota in one conditional statement,
    /// so that concurrent transfers can never take it below zero. Returns false (and changes
    /// nothing) when the invitation quota is smaller than `amount`.
    pub async fn take_aff_quota(&self, user_id: i64, amount: i64) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE users SET aff_quota = aff_quota - ? \
             WHERE id = ? AND deleted_at IS NULL AND aff_quota >= ?",
        )
        .bind(amount)
        .bind(user_id)
        .bind(amount)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Gives `amount` back to a user's invitation quota (undoes [`Db::take_aff_quota`] when the
    /// transfer could not be completed).
    pub async fn return_aff_quota(&self, user_id: i64, amount: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET aff_quota = aff_quota + ? WHERE id = ?")
            .bind(amount)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
