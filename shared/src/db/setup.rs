//! The `setups` table and the one-time creation of the root account.

use sqlx::AssertSqlSafe;

use super::{Db, DbError, NewUser, now_secs};

/// The role number of the root user.
const ROOT_ROLE: i64 = 100;

impl Db {
    /// True once setup has completed. Like new-api, a database that already has a root user
    /// (e.g. migrated from elsewhere) counts as set up.
    pub async fn is_setup_done(&self) -> Result<bool, DbError> {
        let setups: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM setups")
            .fetch_one(self.pool())
            .await?;
        Ok(setups > 0 || self.count_users_with_role(ROOT_ROLE).await? > 0)
    }

    /// Creates the root user and records setup, in one transaction. Returns `Ok(None)` when setup
    /// was already done (also when two setups race: exactly one wins).
    pub async fn complete_setup(
        &self,
        root: &NewUser<'_>,
        version: &str,
    ) -> Result<Option<i64>, DbError> {
        let mut tx = self.pool().begin().await?;
        // The fixed id 1 makes a concurrent second setup fail on the primary key.
        let claimed = sqlx::query(AssertSqlSafe(format!(
            "{} INTO setups (id, version, initialized_at) VALUES (1, ?, ?)",
            self.dialect().insert_ignore()
        )))
        .bind(version)
        .bind(now_secs())
        .execute(&mut *tx)
        .await?;
        let roots: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = ? AND deleted_at IS NULL")
                .bind(ROOT_ROLE)
                .fetch_one(&mut *tx)
                .await?;
        if claimed.rows_affected() == 0 || roots > 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let result = sqlx::query(
            "INSERT INTO users (username, password, display_name, role, status, quota, `group`, \
             email, inviter_id, setting, created_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, '', ?)",
        )
        .bind(root.username)
        .bind(root.password_hash)
        .bind(root.display_name)
        .bind(root.role)
        .bind(root.quota)
        .bind(root.group)
        .bind(root.email)
        .bind(root.inviter_id)
        .bind(now_secs())
        .execute(&mut *tx)
        .await?;
        let id = super::inserted_id(&mut tx, self.dialect(), &result).await?;
        tx.commit().await?;
        Ok(Some(id))
    }
}
