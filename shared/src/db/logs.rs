//! Reading the `logs` table: filtered, paginated lists and sums for the log APIs.
//!
//! Lists hold at tens of millions of rows: every filter has an index in id order (migration
//! 0014), a page is read newest first either by offset (new-api's page numbers) or after a
//! cursor (`before`: the last id seen, which reads one page of index entries however deep),
//! and the total is counted only up to [`LOG_COUNT_CAP`] rows.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

/// One log row as the APIs show it.
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize)]
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
    /// Only this key's rows (0: any).
    pub token_id: i64,
    /// Only the row of this request id.
    pub request_id: String,
    /// Rows of any type but this one (0: none left out); e.g. a ledger view without the
    /// failed requests, which moved no money.
    pub exclude_type: i64,
}

/// The most rows a list counts: a larger total answers as this many (with `total_capped`).
pub const LOG_COUNT_CAP: i64 = 10_000;

/// Which rows of a filtered list a page holds, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPaging {
    /// Skip `offset` rows (new-api's page numbers).
    Offset { offset: i64, limit: i64 },
    /// The rows older than id `before` (keyset: as fast on page 10 000 as on page 1).
    Before { before: i64, limit: i64 },
}

/// A page of logs.
#[derive(Debug, Clone)]
pub struct LogPage {
    pub rows: Vec<LogRow>,
    /// How many rows the filter selects, up to [`LOG_COUNT_CAP`].
    pub total: i64,
    /// Whether there are more than `total`.
    pub total_capped: bool,
    /// The cursor of the next page (the last row's id), when the page is full.
    pub next_before: Option<i64>,
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

/// The order of a list, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// By id: every filter's index holds its entries in id order.
    Id,
    /// By time, then id: what a time range's index holds (alone, or after the user), so that
    /// a page of the last day reads ten index entries instead of sorting the day's rows. Ids
    /// follow the time the rows were written, so both orders show the same newest rows.
    Time,
}

impl LogFilter {
    /// A time range, alone or with the user, is read in the time index's order; any other
    /// filter's index is in id order.
    fn order(&self) -> Order {
        let ranged = self.start_timestamp > 0 || self.end_timestamp > 0;
        let other_index = self.channel_id != 0
            || self.token_id != 0
            || [
                &self.username,
                &self.token_name,
                &self.model_name,
                &self.request_id,
            ]
            .iter()
            .any(|text| !text.is_empty());
        if ranged && !other_index {
            Order::Time
        } else {
            Order::Id
        }
    }

    /// Whether a condition other than the type narrows the rows.
    fn narrowed_besides_type(&self) -> bool {
        self.user_id.is_some()
            || self.channel_id != 0
            || self.token_id != 0
            || self.start_timestamp > 0
            || self.end_timestamp > 0
            || [
                &self.username,
                &self.token_name,
                &self.model_name,
                &self.group,
                &self.request_id,
            ]
            .iter()
            .any(|text| !text.is_empty())
    }

    fn clause(&self, dialect: super::Dialect) -> (String, Vec<Arg<'_>>) {
        let mut sql = String::from(" WHERE 1 = 1");
        let mut args = Vec::new();
        if let Some(user_id) = self.user_id {
            sql.push_str(" AND user_id = ?");
            args.push(Arg::Int(user_id));
        }
        // SQLite takes any equality index over a range, and "consume" is nearly every row: with
        // another condition, the type is checked on the rows that condition's index finds
        // (`+type` reads no index). Alone, the type index serves the rare types (top-ups).
        let type_column = if dialect == super::Dialect::Sqlite && self.narrowed_besides_type() {
            "+type"
        } else {
            "type"
        };
        for (value, column) in [
            (self.log_type, type_column),
            (self.channel_id, "channel_id"),
            (self.token_id, "token_id"),
        ] {
            if value != 0 {
                sql.push_str(&format!(" AND {column} = ?"));
                args.push(Arg::Int(value));
            }
        }
        if self.exclude_type != 0 {
            sql.push_str(" AND type <> ?");
            args.push(Arg::Int(self.exclude_type));
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
            (&self.request_id, "request_id"),
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

/// The sums of [`Db::logs_stat`] over `clause`; `by_time` reads the time index whatever else
/// the clause names (for a short recent range, which it narrows best).
fn stat_query(dialect: super::Dialect, clause: &str, by_time: bool) -> String {
    let logs = match (by_time, dialect) {
        (false, _) => "logs",
        (true, super::Dialect::Sqlite) => "logs INDEXED BY idx_logs_time",
        (true, super::Dialect::MySql) => "logs FORCE INDEX (idx_logs_time)",
    };
    format!(
        "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED), COUNT(*), \
         CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
         CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED) FROM {logs}{clause}"
    )
}

/// The page query after `clause`; its parameters follow the clause's: `LIMIT ?, OFFSET ?`, or
/// after a cursor `id < ?, LIMIT ?` (by id) or `created_at <= ?, created_at < ?, id < ?,
/// LIMIT ?` (by time: the rows before the cursor row's time and id).
fn page_query(clause: &str, order: Order, paging: LogPaging) -> String {
    let order_by = match order {
        Order::Id => "id DESC",
        Order::Time => "created_at DESC, id DESC",
    };
    let after = match (paging, order) {
        (LogPaging::Offset { .. }, _) => {
            return format!(
                "SELECT {LOG_COLUMNS} FROM logs{clause} ORDER BY {order_by} LIMIT ? OFFSET ?"
            );
        }
        (LogPaging::Before { .. }, Order::Id) => "id < ?",
        (LogPaging::Before { .. }, Order::Time) => "created_at <= ? AND (created_at < ? OR id < ?)",
    };
    format!("SELECT {LOG_COLUMNS} FROM logs{clause} AND {after} ORDER BY {order_by} LIMIT ?")
}

impl Db {
    /// One page of logs (newest first) and the total the filter selects, counted up to
    /// [`LOG_COUNT_CAP`].
    pub async fn logs_page(
        &self,
        filter: &LogFilter,
        paging: LogPaging,
    ) -> Result<LogPage, DbError> {
        let (clause, args) = filter.clause(self.dialect());
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT id FROM logs{clause} LIMIT {}) capped",
            LOG_COUNT_CAP + 1
        );
        let counted: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.pool())
            .await?;
        let order = filter.order();
        let page_sql = page_query(&clause, order, paging);
        let mut query = bind_all!(sqlx::query_as(AssertSqlSafe(page_sql)), &args);
        let limit = match paging {
            LogPaging::Offset { offset, limit } => {
                query = query.bind(limit).bind(offset);
                limit
            }
            LogPaging::Before { before, limit } => {
                if order == Order::Time {
                    // The cursor row's time (or, if it is gone, the time of the row before it).
                    let Some(at) = sqlx::query_scalar::<_, i64>(
                        "SELECT created_at FROM logs WHERE id <= ? ORDER BY id DESC LIMIT 1",
                    )
                    .bind(before)
                    .fetch_optional(self.pool())
                    .await?
                    else {
                        return Ok(LogPage {
                            rows: Vec::new(),
                            total: counted.min(LOG_COUNT_CAP),
                            total_capped: counted > LOG_COUNT_CAP,
                            next_before: None,
                        });
                    };
                    query = query.bind(at).bind(at);
                }
                query = query.bind(before).bind(limit);
                limit
            }
        };
        let rows: Vec<LogRow> = query.fetch_all(self.pool()).await?;
        let next_before = (i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        Ok(LogPage {
            rows,
            total: counted.min(LOG_COUNT_CAP),
            total_capped: counted > LOG_COUNT_CAP,
            next_before,
        })
    }

    /// The database's plan of the page query for `filter` (one line per step: MySQL's
    /// `EXPLAIN` rows as `table:type:key:extra`, SQLite's `EXPLAIN QUERY PLAN` details), so tests and
    /// operators can check that each filter reads an index.
    pub async fn explain_logs_page(&self, filter: &LogFilter) -> Result<Vec<String>, DbError> {
        let (clause, args) = filter.clause(self.dialect());
        let paging = LogPaging::Before {
            before: i64::MAX,
            limit: 10,
        };
        let order = filter.order();
        let page_sql = page_query(&clause, order, paging);
        let then: &[i64] = match order {
            Order::Id => &[i64::MAX, 10],
            Order::Time => &[i64::MAX, i64::MAX, i64::MAX, 10],
        };
        self.explain(&page_sql, &args, then).await
    }

    /// The same for the sums of [`Db::logs_stat`] (`recent`: of [`Db::recent_logs_stat`]).
    pub async fn explain_logs_stat(
        &self,
        filter: &LogFilter,
        recent: bool,
    ) -> Result<Vec<String>, DbError> {
        let (clause, args) = filter.clause(self.dialect());
        let sql = stat_query(self.dialect(), &clause, recent);
        self.explain(&sql, &args, &[]).await
    }

    async fn explain(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        then: &[i64],
    ) -> Result<Vec<String>, DbError> {
        use sqlx::Row;
        let prefix = match self.dialect() {
            super::Dialect::MySql => "EXPLAIN",
            super::Dialect::Sqlite => "EXPLAIN QUERY PLAN",
        };
        let mut query = bind_all!(sqlx::query(AssertSqlSafe(format!("{prefix} {sql}"))), args);
        for value in then {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let text = |row: &sqlx::any::AnyRow, name: &str| {
            row.try_get::<Option<String>, _>(name)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        Ok(rows
            .iter()
            .map(|row| match self.dialect() {
                super::Dialect::MySql => format!(
                    "{}:{}:{}:{}",
                    text(row, "table"),
                    text(row, "type"),
                    text(row, "key"),
                    text(row, "Extra")
                ),
                super::Dialect::Sqlite => text(row, "detail"),
            })
            .collect())
    }

    /// Sums over the logs the filter selects.
    pub async fn logs_stat(&self, filter: &LogFilter) -> Result<LogStat, DbError> {
        self.sum_logs(filter, false).await
    }

    /// Sums over the logs of a short recent time range (the filter's `start_timestamp`, which
    /// must be set), read through the time index: it narrows more than any other filter can.
    pub async fn recent_logs_stat(&self, filter: &LogFilter) -> Result<LogStat, DbError> {
        self.sum_logs(filter, filter.start_timestamp > 0).await
    }

    async fn sum_logs(&self, filter: &LogFilter, by_time: bool) -> Result<LogStat, DbError> {
        let (clause, args) = filter.clause(self.dialect());
        let sql = stat_query(self.dialect(), &clause, by_time);
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

/// How many of the newest rows a search of the log text reads (new-api's log search matches a
/// prefix of `content`, which no index serves): a bounded range of the primary key.
pub const LOG_SEARCH_WINDOW: i64 = 10_000;

/// The prefix `LIKE` pattern of `text`, its own `%`, `_` and `!` escaped with `!` (an escape
/// character both dialects read the same way in a string literal).
fn prefix_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

const CONTENT_PREFIX_QUERY: &str =
    "logs WHERE id > ? AND content LIKE ? ESCAPE '!' ORDER BY id DESC LIMIT ?";

impl Db {
    /// The newest `limit` rows the filter selects (no count): read as a page of its index.
    pub async fn newest_logs(
        &self,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<Vec<LogRow>, DbError> {
        let (clause, args) = filter.clause(self.dialect());
        let order = filter.order();
        let sql = page_query(
            &clause,
            order,
            LogPaging::Before {
                before: i64::MAX,
                limit,
            },
        );
        let mut query = bind_all!(sqlx::query_as(AssertSqlSafe(sql)), &args);
        if order == Order::Time {
            // No cursor: before any time.
            query = query.bind(i64::MAX).bind(i64::MAX);
        }
        Ok(query
            .bind(i64::MAX)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The newest `limit` rows among the last [`LOG_SEARCH_WINDOW`] whose `content` starts with
    /// `prefix` (compared as the database's collation compares text).
    pub async fn logs_with_content_prefix(
        &self,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<LogRow>, DbError> {
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM logs")
            .fetch_one(self.pool())
            .await?;
        let Some(newest) = newest else {
            return Ok(Vec::new());
        };
        let sql = format!("SELECT {LOG_COLUMNS} FROM {CONTENT_PREFIX_QUERY}");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(newest.saturating_sub(LOG_SEARCH_WINDOW))
            .bind(prefix_pattern(prefix))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// The plans of [`Db::newest_logs`] for `filter` and of [`Db::logs_with_content_prefix`]
    /// (see [`Db::explain_logs_page`]).
    pub async fn explain_log_search(
        &self,
        filter: &LogFilter,
    ) -> Result<(Vec<String>, Vec<String>), DbError> {
        let newest = self.explain_logs_page(filter).await?;
        let sql = format!("SELECT {LOG_COLUMNS} FROM {CONTENT_PREFIX_QUERY}");
        let text = [Arg::Int(0), Arg::Text("a%")];
        let content = self.explain(&sql, &text, &[10]).await?;
        Ok((newest, content))
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
