//! Changes a signed-in user makes to their own row of `users`: profile, password, personal
//! settings, and deleting the account (soft: `deleted_at` is set, the row stays for the logs).

use super::{Db, DbError, now_secs};
use crate::roles::ROLE_ROOT;

/// What became of a profile update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileOutcome {
    Updated,
    /// The new username belongs to another (possibly deleted) user.
    UsernameTaken,
}

/// What became of a request to delete one's own account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfDeleteOutcome {
    Deleted,
    /// The user is the last live root: the system would have nobody to administer it.
    LastRoot,
    /// No such live user.
    NoUser,
}

impl Db {
    /// Changes a live user's username and/or display name (`None` keeps the current value).
    pub async fn update_profile(
        &self,
        user_id: i64,
        username: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<ProfileOutcome, DbError> {
        super::check_lengths(
            "users",
            &[
                ("username", username.unwrap_or_default()),
                ("display_name", display_name.unwrap_or_default()),
            ],
        )?;
        let result = sqlx::query(
            "UPDATE users SET username = COALESCE(?, username), \
             display_name = COALESCE(?, display_name) WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(username)
        .bind(display_name)
        .bind(user_id)
        .execute(self.pool())
        .await;
        match result {
            Ok(_) => Ok(ProfileOutcome::Updated),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(ProfileOutcome::UsernameTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a user's password hash and, in the same statement, revokes the access token:
    /// a credential issued under the old password must not outlive it.
    pub async fn set_password_revoking_token(
        &self,
        user_id: i64,
        password_hash: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET password = ?, access_token_hash = NULL, \
             access_token_expires_at = 0 WHERE id = ?",
        )
        .bind(password_hash)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Replaces a user's personal settings (the JSON text of `users.setting`).
    pub async fn set_user_setting(&self, user_id: i64, setting: &str) -> Result<(), DbError> {
        super::check_lengths("users", &[("setting", setting)])?;
        sqlx::query("UPDATE users SET setting = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(setting)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Soft-deletes a live user and revokes the access token, unless the user is the last live
    /// root. The check and the change are one statement, so that it holds without a lock.
    pub async fn delete_self(&self, user_id: i64) -> Result<SelfDeleteOutcome, DbError> {
        // MySQL refuses a subquery on the table being updated unless it is materialised: the
        // aggregate in a derived table forces that.
        let result = sqlx::query(
            "UPDATE users SET deleted_at = ?, access_token_hash = NULL, \
             access_token_expires_at = 0 \
             WHERE id = ? AND deleted_at IS NULL AND (role <> ? OR \
             (SELECT roots.n FROM (SELECT COUNT(*) AS n FROM users \
              WHERE role = ? AND deleted_at IS NULL) AS roots) > 1)",
        )
        .bind(now_secs())
        .bind(user_id)
        .bind(ROLE_ROOT)
        .bind(ROLE_ROOT)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(SelfDeleteOutcome::Deleted);
        }
        Ok(match self.user_by_id(user_id).await? {
            Some(_) => SelfDeleteOutcome::LastRoot,
            None => SelfDeleteOutcome::NoUser,
        })
    }
}
