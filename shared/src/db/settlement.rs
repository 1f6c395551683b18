//! Writing relay outcomes: log rows and the balance deltas they imply, in batches, in one
//! transaction per batch. A log row's `request_id` is unique, so re-sending a batch after an
//! uncertain failure (the commit may have happened) never bills twice.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

/// Log type of a relayed request (new-api's "consume").
pub const LOG_TYPE_CONSUME: i64 = 2;
/// Log type of an error (new-api's "error").
pub const LOG_TYPE_ERROR: i64 = 5;

/// The outcome of one relayed request.
#[derive(Debug, Clone, Default)]
pub struct RelayRecord {
    pub request_id: String,
    pub created_at: i64,
    pub log_type: i64,
    pub user_id: i64,
    pub username: String,
    pub token_id: i64,
    pub token_name: String,
    /// False when the key's quota is unlimited (its remain_quota is not charged).
    pub charge_token: bool,
    pub channel_id: i64,
    pub group: String,
    pub model_name: String,
    pub upstream_model: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub use_time_ms: i64,
    pub ttft_ms: i64,
    pub is_stream: bool,
    pub is_estimated: bool,
    pub ip: String,
    pub status_code: i64,
    pub retries: i64,
    pub content: String,
    pub other: String,
}

/// A user row as the proxy's snapshot needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserBrief {
    pub id: i64,
    pub username: String,
    pub role: i64,
    pub status: i64,
    pub group: String,
    pub quota: i64,
}

const USER_BRIEF: &str =
    "SELECT id, username, role, status, `group`, quota FROM users WHERE deleted_at IS NULL";

impl Db {
    /// Every live user, briefly (the proxy's user snapshot).
    pub async fn all_user_briefs(&self) -> Result<Vec<UserBrief>, DbError> {
        Ok(sqlx::query_as(USER_BRIEF).fetch_all(self.pool()).await?)
    }

    /// One live user, briefly.
    pub async fn user_brief(&self, id: i64) -> Result<Option<UserBrief>, DbError> {
        Ok(
            sqlx::query_as(AssertSqlSafe(format!("{USER_BRIEF} AND id = ?")))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Writes a batch of records: each log row, and each record's charge to its user, key and
    /// channel. Records whose `request_id` is already logged are skipped entirely, so a batch
    /// may be retried safely. Returns the records that were newly applied.
    pub async fn apply_relay_records(
        &self,
        records: &[RelayRecord],
    ) -> Result<Vec<usize>, DbError> {
        let mut tx = self.pool().begin().await?;
        let mut applied = Vec::with_capacity(records.len());
        let insert = format!(
            "{} INTO logs (request_id, user_id, created_at, type, content, username, token_name, \
             token_id, model_name, upstream_model, quota, prompt_tokens, completion_tokens, \
             cached_tokens, use_time_ms, ttft_ms, is_stream, is_estimated, channel_id, `group`, ip, \
             status_code, retries, other) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.dialect().insert_ignore()
        );
        for (index, r) in records.iter().enumerate() {
            let inserted = sqlx::query(AssertSqlSafe(insert.as_str()))
                .bind(&r.request_id)
                .bind(r.user_id)
                .bind(r.created_at)
                .bind(r.log_type)
                .bind(&r.content)
                .bind(&r.username)
                .bind(&r.token_name)
                .bind(r.token_id)
                .bind(&r.model_name)
                .bind(&r.upstream_model)
                .bind(r.quota)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.cached_tokens)
                .bind(r.use_time_ms)
                .bind(r.ttft_ms)
                .bind(i64::from(r.is_stream))
                .bind(i64::from(r.is_estimated))
                .bind(r.channel_id)
                .bind(&r.group)
                .bind(&r.ip)
                .bind(r.status_code)
                .bind(r.retries)
                .bind(&r.other)
                .execute(&mut *tx)
                .await?;
            if inserted.rows_affected() == 0 {
                continue;
            }
            applied.push(index);
            if r.log_type != LOG_TYPE_CONSUME {
                continue;
            }
            sqlx::query(
                "UPDATE users SET quota = quota - ?, used_quota = used_quota + ?, \
                 request_count = request_count + 1 WHERE id = ?",
            )
            .bind(r.quota)
            .bind(r.quota)
            .bind(r.user_id)
            .execute(&mut *tx)
            .await?;
            if r.token_id > 0 {
                let remain = if r.charge_token { r.quota } else { 0 };
                sqlx::query(
                    "UPDATE tokens SET remain_quota = remain_quota - ?, used_quota = used_quota + ?, \
                     accessed_time = ? WHERE id = ?",
                )
                .bind(remain)
                .bind(r.quota)
                .bind(r.created_at)
                .bind(r.token_id)
                .execute(&mut *tx)
                .await?;
            }
            if r.channel_id > 0 {
                sqlx::query("UPDATE channels SET used_quota = used_quota + ? WHERE id = ?")
                    .bind(r.quota)
                    .bind(r.channel_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }
}
