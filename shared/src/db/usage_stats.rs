//! Usage aggregates, per hour at three levels and per minute at one:
//!
//! - `usage_hourly`: hour × user × key × model × channel × group;
//! - `usage_hourly_models`: the same summed over users and keys (hour × model × channel ×
//!   group);
//! - `usage_model_hours`: everyone's per hour and model (the dashboard's bars);
//! - `usage_model_minutes`: everyone's per minute and model (the whole minutes of a partial
//!   hour).
//!
//! The settlement batch adds its fresh records to all of them in the transaction that writes
//! their log rows, so the aggregates always equal the sums of the logs; statistics read the
//! smallest level that answers them, and fall back to the logs only for what no level can (a
//! key name, a log type other than consume, the seconds of a range that are not whole minutes,
//! the partial hours of a user's or a key's range).

use super::settlement::{LOG_TYPE_CONSUME, LOG_TYPE_ERROR, RelayRecord};
use super::{Db, DbError, Dialect, LogFilter, LogStat};
use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

const HOUR: i64 = 3600;
const MINUTE: i64 = 60;

/// The key of one aggregate row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct UsageKey {
    hour: i64,
    user_id: i64,
    token_id: i64,
    model_name: String,
    channel_id: i64,
    group: String,
}

/// The key of one row of everyone's aggregates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ModelKey {
    hour: i64,
    model_name: String,
    channel_id: i64,
    group: String,
}

/// What a batch adds to one aggregate row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct UsageSums {
    requests: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    quota: i64,
    use_time_ms: i64,
    ttft_ms: i64,
    ttft_count: i64,
}

/// What one record adds to its aggregate rows: consume records count as requests with their
/// tokens and quota, error records as errors only; other types are not relayed requests (None).
fn record_sums(r: &RelayRecord) -> Option<UsageSums> {
    if r.log_type == LOG_TYPE_ERROR {
        return Some(UsageSums {
            errors: 1,
            ..UsageSums::default()
        });
    }
    if r.log_type != LOG_TYPE_CONSUME {
        return None;
    }
    let streamed = r.is_stream && r.ttft_ms > 0;
    Some(UsageSums {
        requests: 1,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cached_tokens: r.cached_tokens,
        quota: r.quota,
        use_time_ms: r.use_time_ms.max(0),
        ttft_ms: if streamed { r.ttft_ms } else { 0 },
        ttft_count: i64::from(streamed),
        ..UsageSums::default()
    })
}

/// The aggregate additions of a batch's records, in key order (so that nodes writing at once
/// lock rows in the same order).
fn sums_of(records: &[&RelayRecord]) -> BTreeMap<UsageKey, UsageSums> {
    let mut sums: BTreeMap<UsageKey, UsageSums> = BTreeMap::new();
    for r in records {
        let Some(added) = record_sums(r) else {
            continue;
        };
        let key = UsageKey {
            hour: r.created_at - r.created_at.rem_euclid(HOUR),
            user_id: r.user_id,
            token_id: r.token_id,
            model_name: r.model_name.clone(),
            channel_id: r.channel_id,
            group: r.group.clone(),
        };
        sums.entry(key).or_default().add(&added);
    }
    sums
}

/// The additions to everyone's per-minute rows (minute × model), in key order.
fn minute_sums(records: &[&RelayRecord]) -> BTreeMap<(i64, String), UsageSums> {
    let mut sums: BTreeMap<(i64, String), UsageSums> = BTreeMap::new();
    for r in records {
        if let Some(added) = record_sums(r) {
            let minute = r.created_at - r.created_at.rem_euclid(MINUTE);
            sums.entry((minute, r.model_name.clone()))
                .or_default()
                .add(&added);
        }
    }
    sums
}

impl UsageSums {
    fn add(&mut self, other: &UsageSums) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(other.cached_tokens);
        self.quota = self.quota.saturating_add(other.quota);
        self.use_time_ms = self.use_time_ms.saturating_add(other.use_time_ms);
        self.ttft_ms = self.ttft_ms.saturating_add(other.ttft_ms);
        self.ttft_count = self.ttft_count.saturating_add(other.ttft_count);
    }
}

/// The per-key sums folded over users and keys, in key order.
fn model_sums(sums: &BTreeMap<UsageKey, UsageSums>) -> BTreeMap<ModelKey, UsageSums> {
    let mut models: BTreeMap<ModelKey, UsageSums> = BTreeMap::new();
    for (key, row) in sums {
        let model = ModelKey {
            hour: key.hour,
            model_name: key.model_name.clone(),
            channel_id: key.channel_id,
            group: key.group.clone(),
        };
        models.entry(model).or_default().add(row);
    }
    models
}

/// Everyone's per-model sums folded over channels and groups: `(hour, model)` in key order.
fn model_hour_sums(models: &BTreeMap<ModelKey, UsageSums>) -> BTreeMap<(i64, String), UsageSums> {
    let mut hours: BTreeMap<(i64, String), UsageSums> = BTreeMap::new();
    for (key, row) in models {
        hours
            .entry((key.hour, key.model_name.clone()))
            .or_default()
            .add(row);
    }
    hours
}

/// Aggregate rows per upsert statement (at most 15 parameters each).
const ROWS_PER_UPSERT: usize = 100;
const KEY_COLUMNS: &str = "hour, user_id, token_id, model_name, channel_id, `group`";
const MODEL_KEY_COLUMNS: &str = "hour, model_name, channel_id, `group`";
const SUM_COLUMNS: [&str; 9] = [
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "quota",
    "use_time_ms",
    "ttft_ms",
    "ttft_count",
];

/// Adds the fresh records of a settlement batch to the aggregates, inside its transaction.
pub(super) async fn add_usage(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dialect: Dialect,
    records: &[&RelayRecord],
) -> Result<(), DbError> {
    let sums = sums_of(records);
    let models = model_sums(&sums);
    let keyed: Vec<_> = sums.into_iter().collect();
    upsert(
        tx,
        dialect,
        "usage_hourly",
        KEY_COLUMNS,
        6,
        &keyed,
        |query, k| {
            query
                .bind(k.hour)
                .bind(k.user_id)
                .bind(k.token_id)
                .bind(k.model_name.clone())
                .bind(k.channel_id)
                .bind(k.group.clone())
        },
    )
    .await?;
    let model_hours: Vec<_> = model_hour_sums(&models).into_iter().collect();
    let models: Vec<_> = models.into_iter().collect();
    upsert(
        tx,
        dialect,
        "usage_hourly_models",
        MODEL_KEY_COLUMNS,
        4,
        &models,
        |query, k| {
            query
                .bind(k.hour)
                .bind(k.model_name.clone())
                .bind(k.channel_id)
                .bind(k.group.clone())
        },
    )
    .await?;
    upsert(
        tx,
        dialect,
        "usage_model_hours",
        "hour, model_name",
        2,
        &model_hours,
        bind_period,
    )
    .await?;
    let minutes: Vec<_> = minute_sums(records).into_iter().collect();
    upsert(
        tx,
        dialect,
        "usage_model_minutes",
        "minute, model_name",
        2,
        &minutes,
        bind_period,
    )
    .await
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the key of a per-period row of everyone's: the period's first second and the model.
fn bind_period<'q>(query: AnyQuery<'q>, key: &(i64, String)) -> AnyQuery<'q> {
    query.bind(key.0).bind(key.1.clone())
}

/// Adds `rows` (a key of `key_len` columns, bound by `bind_key`, and its sums) to `table`.
async fn upsert<K>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dialect: Dialect,
    table: &str,
    key_columns: &str,
    key_len: usize,
    rows: &[(K, UsageSums)],
    bind_key: impl for<'q> Fn(AnyQuery<'q>, &K) -> AnyQuery<'q>,
) -> Result<(), DbError> {
    let tail = dialect.upsert_add_tail(key_columns, &SUM_COLUMNS);
    let placeholders = format!("({})", vec!["?"; key_len + SUM_COLUMNS.len()].join(", "));
    for chunk in rows.chunks(ROWS_PER_UPSERT) {
        let sql = format!(
            "INSERT INTO {table} ({key_columns}, {}) VALUES {} {tail}",
            SUM_COLUMNS.join(", "),
            vec![placeholders.as_str(); chunk.len()].join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (k, s) in chunk {
            query = bind_key(query, k)
                .bind(s.requests)
                .bind(s.errors)
                .bind(s.prompt_tokens)
                .bind(s.completion_tokens)
                .bind(s.cached_tokens)
                .bind(s.quota)
                .bind(s.use_time_ms)
                .bind(s.ttft_ms)
                .bind(s.ttft_count);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A time range `[start, end]` (inclusive, 0 = open) split into the whole hours the aggregates
/// answer (`hour >= from AND hour < until`) and the partial hours at either end the logs answer.
#[derive(Debug, PartialEq, Eq)]
struct SplitRange {
    /// Whole periods (hours, or minutes), when there is at least one.
    whole: Option<(i64, i64)>,
    /// Inclusive `[start, end]` ranges of seconds left to the logs.
    edges: Vec<(i64, i64)>,
}

fn split_range(start: i64, end: i64) -> SplitRange {
    split_range_by(start, end, HOUR)
}

/// [`split_range`] for periods of `span` seconds (whole minutes, whole hours).
fn split_range_by(start: i64, end: i64, span: i64) -> SplitRange {
    let start = start.max(0);
    let from = if start > 0 {
        start.div_euclid(span) * span + if start % span == 0 { 0 } else { span }
    } else {
        0
    };
    let until = if end > 0 {
        (end.saturating_add(1)).div_euclid(span) * span
    } else {
        i64::MAX
    };
    if end > 0 && from >= until {
        return SplitRange {
            whole: None,
            edges: vec![(start, end)],
        };
    }
    let mut edges = Vec::new();
    if start > 0 && start < from {
        edges.push((start, from - 1));
    }
    if end > 0 && until <= end {
        edges.push((until, end));
    }
    SplitRange {
        whole: Some((from, until)),
        edges,
    }
}

/// Adds `part` to `total`.
fn add_stat(total: &mut LogStat, part: &LogStat) {
    total.quota += part.quota;
    total.requests += part.requests;
    total.prompt_tokens += part.prompt_tokens;
    total.completion_tokens += part.completion_tokens;
}

/// Whether a filter selects everyone's rows by model at most (no user, key, channel or
/// group): what everyone's per-model levels answer.
fn everyone_by_model(filter: &LogFilter) -> bool {
    filter.user_id.is_none()
        && filter.token_id == 0
        && filter.channel_id == 0
        && filter.group.is_empty()
}

/// One bar of new-api's dashboard (`/api/data/`): a model's use in one hour.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct QuotaDatum {
    pub model_name: String,
    /// The hour's first second.
    pub created_at: i64,
    pub count: i64,
    pub quota: i64,
    pub token_used: i64,
}

/// One bar of new-api's per-user dashboard (`/api/data/users`): a user's use in one hour.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct UserQuotaDatum {
    pub user_id: i64,
    /// '' when the account is gone.
    pub username: String,
    /// The hour's first second.
    pub created_at: i64,
    pub count: i64,
    pub quota: i64,
    pub token_used: i64,
}

/// Performance counters of one model, group and hour (new-api's perf-metrics buckets).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PerfBucket {
    pub model_name: String,
    pub group: String,
    /// The hour's first second.
    pub hour: i64,
    /// Relayed (successful) requests.
    pub requests: i64,
    /// Failed requests.
    pub errors: i64,
    /// Summed request time of the relayed requests.
    pub use_time_ms: i64,
    /// Summed time to first token of the streamed ones, and how many those are.
    pub ttft_ms: i64,
    pub ttft_count: i64,
    pub completion_tokens: i64,
}

impl Db {
    /// Consume sums over what `filter` selects (its `log_type` must be 0 or consume): whole
    /// hours from the aggregates, partial hours and key-name filters from the logs.
    pub async fn usage_stat(&self, filter: &LogFilter) -> Result<LogStat, DbError> {
        let mut filter = filter.clone();
        filter.log_type = LOG_TYPE_CONSUME;
        if filter.user_id.is_none() && !filter.username.is_empty() {
            match self.user_id_by_name(&filter.username).await? {
                Some(id) => {
                    filter.user_id = Some(id);
                    filter.username.clear();
                }
                // A name no account has now: only the logs know who had it.
                None => return self.logs_stat(&filter).await,
            }
        }
        if !filter.token_name.is_empty() || !filter.request_id.is_empty() {
            return self.logs_stat(&filter).await;
        }
        let range = split_range(filter.start_timestamp, filter.end_timestamp);
        let mut total = match range.whole {
            Some((from, until)) => self.aggregate_stat(&filter, from, until).await?,
            None => LogStat::default(),
        };
        for (start, end) in range.edges {
            let part = self.edge_stat(&filter, start, end).await?;
            add_stat(&mut total, &part);
        }
        Ok(total)
    }

    /// Sums of a partial hour `[start, end]`: its whole minutes from everyone's per-minute
    /// rows when the filter is everyone's (by model at most) and the minutes hold every record
    /// then; the rest (seconds at either end, other filters, earlier times) from the logs.
    async fn edge_stat(
        &self,
        filter: &LogFilter,
        start: i64,
        end: i64,
    ) -> Result<LogStat, DbError> {
        let logs = |start: i64, end: i64| LogFilter {
            start_timestamp: start,
            end_timestamp: end,
            ..filter.clone()
        };
        if !everyone_by_model(filter) {
            return self.logs_stat(&logs(start, end)).await;
        }
        let since = self.minute_level_since().await?;
        let mut total = LogStat::default();
        let mut start = start;
        if start < since {
            add_stat(
                &mut total,
                &self.logs_stat(&logs(start, end.min(since - 1))).await?,
            );
            if end < since {
                return Ok(total);
            }
            start = since;
        }
        let split = split_range_by(start, end, MINUTE);
        if let Some((from, until)) = split.whole {
            add_stat(
                &mut total,
                &self.minute_stat(&filter.model_name, from, until).await?,
            );
        }
        for (start, end) in split.edges {
            add_stat(&mut total, &self.logs_stat(&logs(start, end)).await?);
        }
        Ok(total)
    }

    /// Since when everyone's per-minute rows hold every record (unix seconds; the migration
    /// that made them set it, a database filled with them has 0).
    async fn minute_level_since(&self) -> Result<i64, DbError> {
        let since: Option<i64> =
            sqlx::query_scalar("SELECT since FROM usage_levels WHERE name = 'model_minutes'")
                .fetch_optional(self.pool())
                .await?;
        Ok(since.unwrap_or(i64::MAX))
    }

    /// Sums of everyone's per-minute rows of minutes `[from, until)`, of one model or all.
    async fn minute_stat(&self, model: &str, from: i64, until: i64) -> Result<LogStat, DbError> {
        let model_clause = if model.is_empty() {
            ""
        } else {
            " AND model_name = ?"
        };
        let sql = format!(
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED), \
             CAST(COALESCE(SUM(requests), 0) AS SIGNED), \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED) \
             FROM usage_model_minutes WHERE minute >= ? AND minute < ?{model_clause}"
        );
        let mut query = sqlx::query_as::<_, (i64, i64, i64, i64)>(AssertSqlSafe(sql))
            .bind(from)
            .bind(until);
        if !model.is_empty() {
            query = query.bind(model);
        }
        let (quota, requests, prompt_tokens, completion_tokens) =
            query.fetch_one(self.pool()).await?;
        Ok(LogStat {
            quota,
            requests,
            prompt_tokens,
            completion_tokens,
        })
    }

    /// Sums of the aggregate rows of hours `[from, until)` matching the filter's user, key,
    /// model, channel and group (everyone's aggregates when it names no user and no key).
    async fn aggregate_stat(
        &self,
        filter: &LogFilter,
        from: i64,
        until: i64,
    ) -> Result<LogStat, DbError> {
        let table = if everyone_by_model(filter) {
            "usage_model_hours"
        } else if filter.user_id.is_none() && filter.token_id == 0 {
            "usage_hourly_models"
        } else {
            "usage_hourly"
        };
        let mut sql = format!(
            "SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED), \
             CAST(COALESCE(SUM(requests), 0) AS SIGNED), \
             CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
             CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED) \
             FROM {table} WHERE hour >= ? AND hour < ?"
        );
        let mut ints = Vec::new();
        if let Some(user_id) = filter.user_id {
            sql.push_str(" AND user_id = ?");
            ints.push(user_id);
        }
        for (value, column) in [
            (filter.channel_id, "channel_id"),
            (filter.token_id, "token_id"),
        ] {
            if value != 0 {
                sql.push_str(&format!(" AND {column} = ?"));
                ints.push(value);
            }
        }
        let mut texts = Vec::new();
        for (value, column) in [
            (&filter.model_name, "model_name"),
            (&filter.group, "`group`"),
        ] {
            if !value.is_empty() {
                sql.push_str(&format!(" AND {column} = ?"));
                texts.push(value.as_str());
            }
        }
        let mut query = sqlx::query_as::<_, (i64, i64, i64, i64)>(AssertSqlSafe(sql))
            .bind(from)
            .bind(until);
        for v in ints {
            query = query.bind(v);
        }
        for v in texts {
            query = query.bind(v);
        }
        let (quota, requests, prompt_tokens, completion_tokens) =
            query.fetch_one(self.pool()).await?;
        Ok(LogStat {
            quota,
            requests,
            prompt_tokens,
            completion_tokens,
        })
    }

    /// Requests and tokens of the last minute (new-api's `rpm` and `tpm`) for what `filter`
    /// selects apart from its time range: a one-minute range read through the time index
    /// (a model or user filter's own index would read all that model's or user's rows).
    pub async fn last_minute_stat(&self, filter: &LogFilter) -> Result<(i64, i64), DbError> {
        let recent = LogFilter {
            log_type: LOG_TYPE_CONSUME,
            start_timestamp: super::now_secs() - 60,
            end_timestamp: 0,
            ..filter.clone()
        };
        let stat = self.recent_logs_stat(&recent).await?;
        Ok((stat.requests, stat.prompt_tokens + stat.completion_tokens))
    }

    /// new-api's dashboard data: requests, quota and tokens per model and hour for hours
    /// starting in `[start, end]`, of one user or of everyone. Grouped in the order of the
    /// everyone table's key (hour, model, ...), which also is the answer's: no sort.
    pub async fn quota_by_model_hour(
        &self,
        user_id: Option<i64>,
        start: i64,
        end: i64,
    ) -> Result<Vec<QuotaDatum>, DbError> {
        let Some(user_id) = user_id else {
            // Everyone's: one row per hour and model already.
            return self.everyones_quota_bars(start, end).await;
        };
        Ok(sqlx::query_as(
            "SELECT model_name, hour AS created_at, CAST(SUM(requests) AS SIGNED) AS count, \
             CAST(SUM(quota) AS SIGNED) AS quota, \
             CAST(SUM(prompt_tokens) + SUM(completion_tokens) AS SIGNED) AS token_used \
             FROM usage_hourly WHERE hour >= ? AND hour <= ? AND user_id = ? \
             GROUP BY hour, model_name HAVING SUM(requests) > 0 ORDER BY hour, model_name",
        )
        .bind(start)
        .bind(end)
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// new-api's per-user dashboard data: requests, quota and tokens per user and hour for hours
    /// starting in `[start, end]`.
    pub async fn quota_by_user_hour(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<UserQuotaDatum>, DbError> {
        Ok(sqlx::query_as(
            "SELECT h.user_id, COALESCE(u.username, '') AS username, h.hour AS created_at, \
             CAST(SUM(h.requests) AS SIGNED) AS count, CAST(SUM(h.quota) AS SIGNED) AS quota, \
             CAST(SUM(h.prompt_tokens) + SUM(h.completion_tokens) AS SIGNED) AS token_used \
             FROM usage_hourly h LEFT JOIN users u ON u.id = h.user_id \
             WHERE h.hour >= ? AND h.hour <= ? \
             GROUP BY h.user_id, u.username, h.hour HAVING SUM(h.requests) > 0 \
             ORDER BY h.hour, h.user_id",
        )
        .bind(start)
        .bind(end)
        .fetch_all(self.pool())
        .await?)
    }

    /// Performance counters per model, group and hour for hours starting in `[from, until]`,
    /// of one model or of all.
    pub async fn perf_buckets(
        &self,
        from: i64,
        until: i64,
        model: Option<&str>,
    ) -> Result<Vec<PerfBucket>, DbError> {
        let model_clause = if model.is_some() {
            " AND model_name = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT model_name, `group`, hour, CAST(SUM(requests) AS SIGNED) AS requests, \
             CAST(SUM(errors) AS SIGNED) AS errors, \
             CAST(SUM(use_time_ms) AS SIGNED) AS use_time_ms, \
             CAST(SUM(ttft_ms) AS SIGNED) AS ttft_ms, \
             CAST(SUM(ttft_count) AS SIGNED) AS ttft_count, \
             CAST(SUM(completion_tokens) AS SIGNED) AS completion_tokens \
             FROM usage_hourly_models WHERE hour >= ? AND hour <= ?{model_clause} \
             GROUP BY model_name, `group`, hour \
             HAVING SUM(requests) + SUM(errors) > 0 ORDER BY model_name, `group`, hour"
        );
        let mut query = sqlx::query_as(AssertSqlSafe(sql)).bind(from).bind(until);
        if let Some(model) = model {
            query = query.bind(model);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// The id of the account named `username` (deleted accounts included: their logs stay).
    pub async fn user_id_by_name(&self, username: &str) -> Result<Option<i64>, DbError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_into_whole_hours_and_edges() {
        // Open on both sides: every hour, no edges.
        assert_eq!(
            split_range(0, 0),
            SplitRange {
                whole: Some((0, i64::MAX)),
                edges: vec![]
            }
        );
        // Aligned: whole hours only (end is inclusive).
        assert_eq!(
            split_range(7200, 10799),
            SplitRange {
                whole: Some((7200, 10800)),
                edges: vec![]
            }
        );
        // Ragged on both sides.
        assert_eq!(
            split_range(7300, 14500),
            SplitRange {
                whole: Some((10800, 14400)),
                edges: vec![(7300, 10799), (14400, 14500)]
            }
        );
        // Inside one hour: the logs only.
        assert_eq!(
            split_range(7300, 7400),
            SplitRange {
                whole: None,
                edges: vec![(7300, 7400)]
            }
        );
        // Open end.
        assert_eq!(
            split_range(7300, 0),
            SplitRange {
                whole: Some((10800, i64::MAX)),
                edges: vec![(7300, 10799)]
            }
        );
    }

    #[test]
    fn partial_hours_split_into_whole_minutes_and_seconds() {
        assert_eq!(
            split_range_by(1100, 4100, MINUTE),
            SplitRange {
                whole: Some((1140, 4080)),
                edges: vec![(1100, 1139), (4080, 4100)]
            }
        );
        assert_eq!(
            split_range_by(1100, 1130, MINUTE),
            SplitRange {
                whole: None,
                edges: vec![(1100, 1130)]
            }
        );
    }

    #[test]
    fn consume_records_sum_per_key_and_errors_count_apart() {
        let record = |id: &str, at: i64, log_type: i64, quota: i64| RelayRecord {
            request_id: id.into(),
            created_at: at,
            log_type,
            user_id: 1,
            token_id: 2,
            model_name: "m".into(),
            channel_id: 3,
            group: "default".into(),
            quota,
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 1,
            ..RelayRecord::default()
        };
        let records = [
            record("a", 3600, LOG_TYPE_CONSUME, 7),
            record("b", 7199, LOG_TYPE_CONSUME, 8),
            record("c", 7200, LOG_TYPE_CONSUME, 9),
            record("d", 3700, LOG_TYPE_ERROR, 0),
        ];
        let refs: Vec<&RelayRecord> = records.iter().collect();
        let sums: Vec<(i64, UsageSums)> = sums_of(&refs)
            .into_iter()
            .map(|(k, s)| (k.hour, s))
            .collect();
        let first = UsageSums {
            requests: 2,
            errors: 1,
            prompt_tokens: 20,
            completion_tokens: 10,
            cached_tokens: 2,
            quota: 15,
            ..UsageSums::default()
        };
        let second = UsageSums {
            requests: 1,
            errors: 0,
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 1,
            quota: 9,
            ..UsageSums::default()
        };
        assert_eq!(sums, vec![(3600, first), (7200, second)]);
    }
}
