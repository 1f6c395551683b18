//! new-api's built-in sign-in identities, each kept in its own `users` column (`github_id`,
//! `discord_id`, `oidc_id`, `wechat_id`, `telegram_id`, `linux_do_id`; see [`BindingColumn`]):
//! the account holding a provider's id, binding an id to an account, and creating the account
//! of an id seen for the first time. The columns carry no unique index (older data may repeat
//! an id), so callers serialise work on one id (the control plane holds a lock in the shared
//! cache).

use super::{
    BindingColumn, BindingOwner, Db, DbError, Movement, NewUser, Signup, is_unique_violation,
};
use sqlx::AssertSqlSafe;

/// What became of binding an email address to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailBinding {
    /// The account has the address now.
    Bound,
    /// Another live account has the address: nothing changed.
    Taken,
    /// The account does not exist (or was deleted).
    Gone,
}

/// What became of creating an account for a new id.
#[derive(Debug, Clone)]
pub enum SignInSignup {
    /// The user was created (with its starting quota).
    Created(Signup),
    /// The username belongs to another (possibly deleted) user: try another one.
    UsernameTaken,
}

impl Db {
    /// The user whose `column` holds `id`, preferring a live one.
    pub async fn sign_in_owner(
        &self,
        column: BindingColumn,
        id: &str,
    ) -> Result<Option<BindingOwner>, DbError> {
        if id.is_empty() {
            return Ok(None);
        }
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, deleted_at FROM users WHERE {} = ? \
             ORDER BY CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, id LIMIT 1",
            column.name()
        )))
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.first().map(|&(id, deleted_at)| match deleted_at {
            None => BindingOwner::Live(id),
            Some(_) => BindingOwner::Deleted(id),
        }))
    }

    /// Stores `id` in `column` of a live user (replacing what it held). Returns false when the
    /// user does not exist.
    pub async fn bind_sign_in_id(
        &self,
        column: BindingColumn,
        user_id: i64,
        id: &str,
    ) -> Result<bool, DbError> {
        let result = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET {} = ? WHERE id = ? AND deleted_at IS NULL",
            column.name()
        )))
        .bind(id)
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

    /// Gives the live user `user_id` the (lower-cased) address `email`, unless another live
    /// user has it; in one statement, so the check and the change cannot be split. The
    /// comparison sits in a derived table so that MySQL materialises it instead of refusing a
    /// subquery on the table being updated.
    pub async fn bind_email(&self, user_id: i64, email: &str) -> Result<EmailBinding, DbError> {
        let result = sqlx::query(
            "UPDATE users SET email = ? WHERE id = ? AND deleted_at IS NULL \
             AND (SELECT n FROM (SELECT COUNT(*) AS n FROM users WHERE email <> '' \
             AND LOWER(email) = ? AND id <> ? AND deleted_at IS NULL) AS holders) = 0",
        )
        .bind(email)
        .bind(user_id)
        .bind(email)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        if result.rows_affected() == 1 {
            return Ok(EmailBinding::Bound);
        }
        Ok(match self.user_by_id(user_id).await? {
            Some(_) => EmailBinding::Taken,
            None => EmailBinding::Gone,
        })
    }

    /// Creates an account whose `column` holds `id` (no password: it signs in through the
    /// provider until the user sets one), with its starting quota (`user.quota`) and the
    /// invitation bonuses `rewards` builds from the new id, granted through the ledger in the
    /// same transaction.
    pub async fn create_sign_in_user(
        &self,
        user: &NewUser<'_>,
        column: BindingColumn,
        id: &str,
        rewards: impl FnOnce(i64) -> Vec<Movement>,
    ) -> Result<SignInSignup, DbError> {
        let mut tx = self.pool().begin().await?;
        // `username` is the only unique column this insert sets.
        let id = match self
            .insert_user(&mut tx, user, Some((column.name(), id)))
            .await
        {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Ok(SignInSignup::UsernameTaken);
            }
            Err(e) => return Err(e),
        };
        let signup = self.credit_signup(&mut tx, id, user, rewards(id)).await?;
        tx.commit().await?;
        Ok(SignInSignup::Created(signup))
    }
}
