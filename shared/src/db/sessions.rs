//! The `sessions` table: server-side records of login sessions, so that a session can be
//! revoked (logout) before its signed cookie expires. Only a hash of the session id is stored.

use super::{Db, DbError, now_secs};

/// A stored session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Db {
    /// Stores a new session.
    pub async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        expires_at: i64,
        ip: &str,
        user_agent: &str,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, ip, user_agent) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(now_secs())
        .bind(expires_at)
        .bind(truncate(ip, 64))
        .bind(truncate(user_agent, 255))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session that has not expired.
    pub async fn live_session(&self, id_hash: &str) -> Result<Option<SessionRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, created_at, expires_at FROM sessions WHERE id = ? AND expires_at > ?",
        )
        .bind(id_hash)
        .bind(now_secs())
        .fetch_optional(self.pool())
        .await?)
    }

    /// Ends one session.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of a user (password change, ban, deletion).
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64, DbError> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now_secs())
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
