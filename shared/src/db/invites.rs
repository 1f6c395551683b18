//! Invitations on the `users` table: a user's own invitation code (`aff_code`, unique). The
//! invitation quota (`aff_quota`) moves only through the ledger (`ledger.rs`).

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
}
