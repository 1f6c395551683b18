//! Self-service accounts on the `users` table: registration (with its money and the inviter's
//! bookkeeping in the same transaction) and finding an account by its email for code logins and resets.

use super::invitation_codes::{InvitationRefusal, consume_invitation_code};
use super::{Db, DbError, Movement, NewUser, Signup, is_unique_violation};
use sqlx::{Any, Transaction};

/// What became of a registration.
#[derive(Debug, Clone)]
pub enum Registration {
    /// The user was created, with its money.
    Created(Signup),
    /// The username belongs to another (possibly deleted) user.
    UsernameTaken,
    /// The user's own invitation code collided with another user's: retry with another code.
    AffCodeTaken,
    /// The invitation code the registration needed could not be used (nothing was written).
    InvitationRefused(InvitationRefusal),
}

impl Db {
    /// True when a user (live or deleted, as usernames stay unique) has `username`.
    pub async fn username_exists(&self, username: &str) -> Result<bool, DbError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(self.pool())
            .await?;
        Ok(count > 0)
    }

    /// True when a live user has the (lower-cased) `email`.
    pub async fn email_in_use(&self, email: &str) -> Result<bool, DbError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE email <> '' AND LOWER(email) = ? \
             AND deleted_at IS NULL",
        )
        .bind(email)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// The id of the one live user with the (lower-cased) `email`; `None` when there is none or
    /// when several share it (older data), since a code must reach exactly one account.
    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<i64>, DbError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM users WHERE email <> '' AND LOWER(email) = ? \
             AND deleted_at IS NULL ORDER BY id LIMIT 2",
        )
        .bind(email)
        .fetch_all(self.pool())
        .await?;
        Ok(match ids.as_slice() {
            [id] => Some(*id),
            _ => None,
        })
    }

    /// The live user whose invitation code is `aff_code`.
    pub async fn user_id_by_aff_code(&self, aff_code: &str) -> Result<Option<i64>, DbError> {
        if aff_code.is_empty() {
            return Ok(None);
        }
        Ok(sqlx::query_scalar(
            "SELECT id FROM users WHERE aff_code = ? AND deleted_at IS NULL ORDER BY id LIMIT 1",
        )
        .bind(aff_code)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a registered user holding its own invitation code `aff_code` and, in the same
    /// transaction, its starting quota (`user.quota`), one more `aff_count` for the inviter
    /// `user.inviter_id` (when not 0) and the movements `rewards` builds from the new id
    /// (invitation bonuses, through the ledger). With `invitation_code`, that code is used up
    /// for the new user in the same transaction (new-api's required invitation codes). Nothing
    /// is written unless everything is.
    pub async fn register_user(
        &self,
        user: &NewUser<'_>,
        aff_code: &str,
        invitation_code: Option<&str>,
        rewards: impl FnOnce(i64) -> Vec<Movement>,
    ) -> Result<Registration, DbError> {
        let mut tx = self.pool().begin().await?;
        let id = match self
            .insert_user(&mut tx, user, Some(("aff_code", aff_code)))
            .await
        {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                // Two unique columns: tell which one collided.
                return Ok(if self.username_exists(user.username).await? {
                    Registration::UsernameTaken
                } else {
                    Registration::AffCodeTaken
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(code) = invitation_code
            && let Err(refusal) = consume_invitation_code(&mut tx, code, id).await?
        {
            tx.rollback().await?;
            return Ok(Registration::InvitationRefused(refusal));
        }
        let signup = self.credit_signup(&mut tx, id, user, rewards(id)).await?;
        tx.commit().await?;
        Ok(Registration::Created(signup))
    }

    /// In the transaction creating user `id` (of `user`): one more `aff_count` for its inviter
    /// (`user.inviter_id`, when not 0), its starting quota and the movements `rewards`
    /// (invitation bonuses), through the ledger. Every way of signing up ends here.
    pub(super) async fn credit_signup(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: i64,
        user: &NewUser<'_>,
        rewards: Vec<Movement>,
    ) -> Result<Signup, DbError> {
        if user.inviter_id != 0 {
            sqlx::query(
                "UPDATE users SET aff_count = aff_count + 1 WHERE id = ? AND deleted_at IS NULL",
            )
            .bind(user.inviter_id)
            .execute(&mut **tx)
            .await?;
        }
        self.grant_signup(tx, id, user.quota, rewards).await
    }
}
