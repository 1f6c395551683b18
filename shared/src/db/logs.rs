//! Reading the `logs` table: filtered, paginated lists and sums for the log APIs.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

/// One log row as the APIs show it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LogRow {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub log_type: i64,
    pub content: String,
    pub username: String,
    pub token_name: String,
    pub token_id: i64,
    pub model_name: String,
    pub upstream_model: String,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub use_time_ms: i64,
    pub ttft_ms: i64,
    pub is_stream: i64,
    pub is_estimated: i64,
    #[serde(rename = "channel")]
    pub channel_id: i64,
    pub group: String,
    pub ip: String,
    pub status_code: i64,
    pub retries: i64,
    pub other: String,
}

/// Filters of a log query; empty strings and zeros mean "any".
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub user_id: Option<i64>,
    pub log_type: i64,
    pub start_timestamp: i64,
    pub end_timestamp: i64,
    pub username: String,
    pub token_name: String,
    pub model_name: String,
    pub channel_id: i64,
    pub group: String,
}

/// Sums over the logs a filter selects.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LogStat {
    pub quota: i64,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

enum Arg<'a> {
    Int(i64),
    Text(&'a str),
}

impl LogFilter {
    fn clause(&self) -> (String, Vec<Arg<'_>>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut args = Vec::new();
        if let Some(user_id) = self.user_id {
            sql.push_str(" AND user_id = ?");
            args.push(Arg::Int(user_id));
        }
        for (value, column) in [(self.log_type, "type"), (self.channel_id, "channel_id")] {
            if value != 0 {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(Arg::Int(value));
            }
        }
        if self.start_timestamp > 0 {
            sql.push_str(" AND created_at >= ?");
            args.push(Arg::Int(self.start_timestamp));
        }
        if self.end_timestamp > 0 {
            sql.push_str(" AND created_at <= ?");
            args.push(Arg::Int(self.end_timestamp));
        }
        for (value, column) in [
            (&self.username, "username"),
            (&self.token_name, "token_name"),
            (&self.model_name, "model_name"),
            (&self.group, "`group`"),
        ] {
            if !value.is_empty() {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(Arg::Text(value));
            }
        }
        (sql, args)
    }
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(*v),
                Arg::Text(v) => query.bind(*v),
            };
        }
        query
    }};
}

const LOG_COLUMNS: &str = "id, user_id, created_at, type, content, username, token_name, token_id, \
    model_name, upstream_model, quota, prompt_tokens, completion_tokens, cached_tokens, use_time_ms, \
    ttft_ms, is_stream, is_estimated, channel_id, `group`, ip, status_code, retries, other";

impl Db {
    /// One page of logs (newest first) and the total the filter selects.
    pub async fn logs_page(
        &self,
        filter: &LogFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<LogRow>, i64), DbError> {
        let (clause, args) = filter.clause();
        let count_sql = format!("SELECT COUNT(*) FROM logs{clause}");
        let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.pool())
            .await?;
        let page_sql =
            format!("SELECT {LOG_COLUMNS} FROM logs{clause} ORDER BY id DESC LIMIT ? OFFSET ?");
        let rows = bind_all!(sqlx::query_as(AssertSqlSafe(page_sql)), &args)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// Sums over the logs the filter selects.
    pub async fn logs_stat(&self, filter: &LogFilter) -> Result<LogStat, DbError> {
        let (clause, args) = filter.clause();
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED), COUNT(*), \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED) FROM logs{clause}"
        );
        let (quota, requests, prompt_tokens, completion_tokens): (i64, i64, i64, i64) =
            bind_all!(sqlx::query_as(AssertSqlSafe(sql)), &args)
                .fetch_one(self.pool())
                .await?;
        Ok(LogStat {
            quota,
            requests,
            prompt_tokens,
            completion_tokens,
        })
    }
}

/// Log type of a top-up (new-api's numbering).
pub const LOG_TYPE_TOPUP: i64 = 1;
/// Log type of an administrator's change to an account (the audit log).
pub const LOG_TYPE_MANAGE: i64 = 3;
/// Log type of a change the system made (rewards, transfers, check-ins).
pub const LOG_TYPE_SYSTEM: i64 = 4;

impl Db {
    /// Writes one log row that is not a relayed request: top-ups, audit entries of
    /// administrators' changes (`LOG_TYPE_MANAGE`), rewards and transfers (`LOG_TYPE_SYSTEM`).
    pub async fn record_log(
        &self,
        user_id: i64,
        log_type: i64,
        content: &str,
        quota: i64,
    ) -> Result<(), DbError> {
        let username: Option<String> =
            sqlx::query_scalar("SELECT username FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        sqlx::query(
            "INSERT INTO logs (request_id, user_id, created_at, type, content, username, quota, other) \
             VALUES (?, ?, ?, ?, ?, ?, ?, '{}')",
        )
        .bind(format!("log_{}", crate::crypto::random_alphanumeric(24)))
        .bind(user_id)
        .bind(super::now_secs())
        .bind(log_type)
        .bind(content)
        .bind(username.unwrap_or_default())
        .bind(quota)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
