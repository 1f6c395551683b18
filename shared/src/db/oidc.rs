//! OIDC identities on the `users` table: the account bound to a provider subject (`oidc_id`),
//! binding and unbinding a subject, and creating the account of a subject seen for the first
//! time. Callers serialise work on one subject (the control plane holds a lock in the shared
//! cache), because `oidc_id` carries no unique index.

use super::{Db, DbError, NewUser, Signup, now_secs};

/// Who holds a provider subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcOwner {
    /// A live user.
    Live(i64),
    /// Only a deleted user (new-api refuses to sign such a subject in again).
    Deleted(i64),
}

/// What became of creating an account for a new subject.
#[derive(Debug, Clone)]
pub enum OidcSignup {
    /// The user was created (with its starting quota).
    Created(Signup),
    /// The username belongs to another (possibly deleted) user: try another one.
    UsernameTaken,
}

impl Db {
    /// The user bound to the provider subject `oidc_id`, preferring a live one.
    pub async fn oidc_owner(&self, oidc_id: &str) -> Result<Option<OidcOwner>, DbError> {
        if oidc_id.is_empty() {
            return Ok(None);
        }
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, deleted_at FROM users WHERE oidc_id = ? \
             ORDER BY CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, id LIMIT 1",
        )
        .bind(oidc_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.first().map(|&(id, deleted_at)| match deleted_at {
            None => OidcOwner::Live(id),
            Some(_) => OidcOwner::Deleted(id),
        }))
    }

    /// Binds the subject `oidc_id` to a live user (replacing any earlier binding of that
    /// user). Returns false when the user does not exist.
    pub async fn bind_oidc_id(&self, user_id: i64, oidc_id: &str) -> Result<bool, DbError> {
        let result =
            sqlx::query("UPDATE users SET oidc_id = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(oidc_id)
                .bind(user_id)
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Removes a live user's OIDC binding. Returns false when the user does not exist or had
    /// none.
    pub async fn unbind_oidc_id(&self, user_id: i64) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE users SET oidc_id = '' WHERE id = ? AND oidc_id <> '' AND deleted_at IS NULL",
        )
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// True when a live user other than `except_user` has the (lower-cased) `email`.
    pub async fn oidc_email_taken(&self, email: &str, except_user: i64) -> Result<bool, DbError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE email <> '' AND LOWER(email) = ? AND id <> ? \
             AND deleted_at IS NULL",
        )
        .bind(email)
        .bind(except_user)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// Creates an account already bound to the subject `oidc_id` (no password: it signs in
    /// through the provider until the user sets one), with its starting quota (`user.quota`,
    /// granted through the ledger in the same transaction).
    pub async fn create_oidc_user(
        &self,
        user: &NewUser<'_>,
        oidc_id: &str,
    ) -> Result<OidcSignup, DbError> {
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, password, display_name, role, status, quota, `group`, \
             email, inviter_id, oidc_id, setting, created_at) \
             VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?, ?, '', ?)",
        )
        .bind(user.username)
        .bind(user.password_hash)
        .bind(user.display_name)
        .bind(user.role)
        .bind(user.group)
        .bind(user.email)
        .bind(user.inviter_id)
        .bind(oidc_id)
        .bind(now_secs())
        .execute(&mut *tx)
        .await;
        let result = match inserted {
            Ok(result) => result,
            // `username` is the only unique column this insert sets.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(OidcSignup::UsernameTaken);
            }
            Err(e) => return Err(e.into()),
        };
        let id = super::inserted_id(&mut tx, self.dialect(), &result).await?;
        let signup = self
            .grant_signup(&mut tx, id, user.quota, Vec::new())
            .await?;
        tx.commit().await?;
        Ok(OidcSignup::Created(signup))
    }
}
