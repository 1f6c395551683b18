//! Usage summaries for the seeds' statistics routes (seed 001's `/api/stats`,
//! `/api/channel-usage` and `/api/user/stats`, seed 002's `/api/usage/stats` and
//! `/api/admin/stats`): totals and breakdowns by model or channel over whole hours, read only
//! from the per-hour aggregates (`usage_hourly` for one user, `usage_model_hours` and
//! `usage_hourly_models` for everyone), never from the logs, so they cost the same at ten million log rows as at ten and
//! survive log retention and `DELETE /api/log/`.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

/// Whose usage a summary covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageScope {
    /// Every user (read from `usage_hourly_models`).
    Everyone,
    /// One user (read from `usage_hourly` through its `(user_id, hour)` index).
    User(i64),
}

/// The hours a summary covers: those starting in `[from, until]` (unix seconds, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourRange {
    pub from: i64,
    pub until: i64,
}

impl HourRange {
    /// Every hour.
    pub const ALL: HourRange = HourRange {
        from: 0,
        until: i64::MAX,
    };

    /// The hours of the current UTC day up to now (`now` in unix seconds).
    pub fn today(now: i64) -> Self {
        Self {
            from: now - now.rem_euclid(86_400),
            until: i64::MAX,
        }
    }
}

/// Sums over the aggregate rows of a scope and range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct UsageTotals {
    /// Relayed (consume) requests.
    pub requests: i64,
    /// Failed requests (nothing charged).
    pub errors: i64,
    pub quota: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
}

/// A breakdown's dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageDimension {
    Model,
    Channel,
}

/// One line of a breakdown: the model's name or the channel's id as `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    /// The model name (by model) or the channel id as text (by channel).
    pub key: String,
    pub totals: UsageTotals,
}

const SUMS: &str = "CAST(COALESCE(SUM(requests), 0) AS SIGNED) AS requests, \
    CAST(COALESCE(SUM(errors), 0) AS SIGNED) AS errors, \
    CAST(COALESCE(SUM(quota), 0) AS SIGNED) AS quota, \
    CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED) AS prompt_tokens, \
    CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED) AS completion_tokens, \
    CAST(COALESCE(SUM(cached_tokens), 0) AS SIGNED) AS cached_tokens";

/// `FROM ... WHERE ...` of a scope and range, for totals (`by` None) or a breakdown; its
/// parameters are the range's bounds, then the user id of a user scope. Everyone's totals and
/// models come from the per-model hours, everyone's channels from the per-channel ones.
fn source(scope: UsageScope, by: Option<UsageDimension>) -> &'static str {
    match (scope, by) {
        (UsageScope::Everyone, Some(UsageDimension::Channel)) => {
            "FROM usage_hourly_models WHERE hour >= ? AND hour <= ?"
        }
        (UsageScope::Everyone, _) => "FROM usage_model_hours WHERE hour >= ? AND hour <= ?",
        (UsageScope::User(_), _) => {
            "FROM usage_hourly WHERE hour >= ? AND hour <= ? AND user_id = ?"
        }
    }
}

#[derive(sqlx::FromRow)]
struct KeyedTotals {
    key: String,
    #[sqlx(flatten)]
    totals: UsageTotals,
}

impl Db {
    /// The totals of `scope` over the hours of `range`.
    pub async fn usage_totals(
        &self,
        scope: UsageScope,
        range: HourRange,
    ) -> Result<UsageTotals, DbError> {
        let sql = format!("SELECT {SUMS} {}", source(scope, None));
        let mut query = sqlx::query_as(AssertSqlSafe(sql))
            .bind(range.from)
            .bind(range.until);
        if let UsageScope::User(id) = scope {
            query = query.bind(id);
        }
        Ok(query.fetch_one(self.pool()).await?)
    }

    /// The totals of `scope` over `range` per model or per channel, the largest quota first
    /// (then by key), lines without a request or an error left out.
    pub async fn usage_breakdown(
        &self,
        scope: UsageScope,
        range: HourRange,
        by: UsageDimension,
    ) -> Result<Vec<UsageLine>, DbError> {
        let column = match by {
            UsageDimension::Model => "model_name",
            UsageDimension::Channel => "channel_id",
        };
        let sql = format!(
            "SELECT CAST({column} AS CHAR) AS `key`, {SUMS} {} GROUP BY {column} \
             HAVING SUM(requests) + SUM(errors) > 0 ORDER BY quota DESC, {column}",
            source(scope, Some(by))
        );
        let mut query = sqlx::query_as::<_, KeyedTotals>(AssertSqlSafe(sql))
            .bind(range.from)
            .bind(range.until);
        if let UsageScope::User(id) = scope {
            query = query.bind(id);
        }
        Ok(query
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|row| UsageLine {
                key: row.key,
                totals: row.totals,
            })
            .collect())
    }

    /// How many accounts exist (deleted ones left out).
    pub async fn count_live_users(&self) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL")
                .fetch_one(self.pool())
                .await?,
        )
    }
}
