//! The `users` table.

use super::{Db, DbError, Signup, now_secs};
use sqlx::{Any, AssertSqlSafe, Transaction};

/// Every column of a user, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub role: i64,
    pub status: i64,
    pub email: String,
    pub github_id: String,
    pub discord_id: String,
    pub oidc_id: String,
    pub wechat_id: String,
    pub telegram_id: String,
    pub linux_do_id: String,
    pub access_token_expires_at: i64,
    pub quota: i64,
    pub used_quota: i64,
    pub request_count: i64,
    pub group: String,
    pub aff_code: Option<String>,
    pub aff_count: i64,
    pub aff_quota: i64,
    pub aff_history_quota: i64,
    pub inviter_id: i64,
    pub setting: String,
    pub remark: String,
    pub stripe_customer: String,
    pub created_at: i64,
    pub last_login_at: i64,
}

/// The columns of [`UserRow`], as a literal so that queries stay `&'static str`.
macro_rules! user_columns {
    () => {
        "id, username, password, display_name, role, status, email, github_id, discord_id, \
         oidc_id, wechat_id, telegram_id, linux_do_id, access_token_expires_at, quota, \
         used_quota, request_count, `group`, aff_code, aff_count, aff_quota, aff_history_quota, \
         inviter_id, setting, remark, stripe_customer, created_at, last_login_at"
    };
}

/// The fields needed to create a user. `quota` is granted through the ledger.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub role: i64,
    pub quota: i64,
    pub group: &'a str,
    pub email: &'a str,
    pub inviter_id: i64,
}

impl Db {
    /// Creates a user with its starting quota (`user.quota`, granted through the ledger in the
    /// same transaction).
    pub async fn create_user(&self, user: &NewUser<'_>) -> Result<Signup, DbError> {
        let mut tx = self.pool().begin().await?;
        let id = self.insert_user(&mut tx, user, None).await?;
        let signup = self
            .grant_signup(&mut tx, id, user.quota, Vec::new())
            .await?;
        tx.commit().await?;
        Ok(signup)
    }

    /// Inserts the row of `user` (enabled, no quota until the ledger grants it) in `tx`, also
    /// setting the column `extra` names (a fixed identifier) to its value; answers the new id.
    /// A unique column that already holds one of its values fails the insert
    /// ([`super::is_unique_violation`]; the caller rolls back).
    pub(super) async fn insert_user(
        &self,
        tx: &mut Transaction<'_, Any>,
        user: &NewUser<'_>,
        extra: Option<(&'static str, &str)>,
    ) -> Result<i64, DbError> {
        super::check_lengths(
            "users",
            &[
                ("username", user.username),
                ("display_name", user.display_name),
                ("group", user.group),
                ("email", user.email),
            ],
        )?;
        let (extra_column, extra_value) = match extra {
            Some((column, value)) => (format!(", {column}"), Some(value)),
            None => (String::new(), None),
        };
        let placeholder = if extra_value.is_some() { ", ?" } else { "" };
        let mut insert = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (username, password, display_name, role, status, quota, `group`, \
             email, inviter_id{extra_column}, setting, created_at) \
             VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?{placeholder}, '', ?)"
        )))
        .bind(user.username)
        .bind(user.password_hash)
        .bind(user.display_name)
        .bind(user.role)
        .bind(user.group)
        .bind(user.email)
        .bind(user.inviter_id);
        if let Some(value) = extra_value {
            insert = insert.bind(value);
        }
        let result = insert.bind(now_secs()).execute(&mut **tx).await?;
        super::inserted_id(&mut *tx, self.dialect(), &result).await
    }

    /// A live (not deleted) user by id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ? AND deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A live user whose username or email is `login`.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE (username = ? OR (email <> '' AND email = ?)) \
             AND deleted_at IS NULL ORDER BY id LIMIT 1"
        ))
        .bind(login)
        .bind(login)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A live user holding the access token whose SHA-256 is `token_hash`.
    pub async fn user_by_access_token(&self, token_hash: &str) -> Result<Option<UserRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE access_token_hash = ? AND deleted_at IS NULL"
        ))
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Replaces the user's access token (only its hash is stored).
    pub async fn set_access_token(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET access_token_hash = ?, access_token_expires_at = ? WHERE id = ?",
        )
        .bind(token_hash)
        .bind(expires_at)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a successful login.
    pub async fn touch_last_login(&self, user_id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE users SET last_login_at = ? WHERE id = ?")
            .bind(now_secs())
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many live users have `role`.
    pub async fn count_users_with_role(&self, role: i64) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = ? AND deleted_at IS NULL")
                .bind(role)
                .fetch_one(self.pool())
                .await?,
        )
    }
}

impl Db {
    /// How many accounts (deleted ones aside) are in `group`.
    pub async fn users_in_group(&self, group: &str) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE `group` = ? AND deleted_at IS NULL",
        )
        .bind(group)
        .fetch_one(self.pool())
        .await?)
    }
}
