//! Synthetic relay logs at scale for `pylon-logs`: `rows` consume log rows (one in 50 an error
//! row) over `days` days, of `users` users (user 1 is the root account), `users * 5` keys,
//! 50 models and 20 channels, generated inside the database by `INSERT ... SELECT` over a
//! table of 1 000 digits (no round trip per row), then the per-hour aggregates computed from
//! them by `GROUP BY`, as the settler would have written them.

use crate::fresh::Backend;

/// Rows per generating statement (the digits table squared).
pub const ROWS_PER_STATEMENT: u64 = 1_000_000;
/// Models and channels the rows spread over.
pub const MODELS: u64 = 50;
pub const CHANNELS: u64 = 20;
/// Keys per user.
pub const KEYS_PER_USER: u64 = 5;
/// Digits of the row number in a request id.
const ID_DIGITS: usize = 10;

/// The request id of row `n`: `bench-` and the row number in [`ID_DIGITS`] digits, so that
/// ids ascend with the rows as Pylon's time-ordered ids do.
pub fn request_id(n: u64) -> String {
    format!("bench-{n:0ID_DIGITS$}")
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub rows: u64,
    pub users: u64,
    /// Unix second of the first row; rows are spread evenly from it.
    pub start: i64,
    pub days: u64,
}

impl Shape {
    /// Keys: `users * KEYS_PER_USER`, key `k` belonging to user `1 + (k - 1) % users`.
    pub fn keys(&self) -> u64 {
        self.users * KEYS_PER_USER
    }
}

/// The digits table the generators join with itself.
pub fn digits_statements() -> Vec<String> {
    let values: Vec<String> = (0..1000).map(|d| format!("({d})")).collect();
    vec![
        "CREATE TABLE bench_digits (d BIGINT NOT NULL PRIMARY KEY)".to_string(),
        format!("INSERT INTO bench_digits (d) VALUES {}", values.join(",")),
    ]
}

/// The statement generating rows `offset .. offset + count` (count at most
/// [`ROWS_PER_STATEMENT`], a multiple of 1 000).
pub fn logs_statement(backend: Backend, shape: &Shape, offset: u64, count: u64) -> String {
    let thousands = count.div_ceil(1000);
    let span = shape.days * 86_400;
    let concat = |parts: &[&str]| match backend {
        Backend::Sqlite => parts.join(" || "),
        Backend::MySqlRedis => format!("CONCAT({})", parts.join(", ")),
    };
    let div = match backend {
        Backend::Sqlite => "/",
        Backend::MySqlRedis => "DIV",
    };
    let users = shape.users;
    let keys = shape.keys();
    let user = format!("(1 + n % {users})");
    let username = format!(
        "CASE WHEN n % {users} = 0 THEN 'root' ELSE {} END",
        concat(&["'bench-user-'", &user])
    );
    let token = format!("(1 + n % {keys})");
    // Request ids in row order, as Pylon's own are time-ordered (see [`request_id`]).
    let padded = match backend {
        Backend::Sqlite => format!("printf('%0{ID_DIGITS}d', n)"),
        Backend::MySqlRedis => format!("LPAD(n, {ID_DIGITS}, '0')"),
    };
    format!(
        "INSERT INTO logs (request_id, user_id, created_at, type, content, username, token_name, \
         token_id, model_name, upstream_model, quota, prompt_tokens, completion_tokens, \
         cached_tokens, use_time_ms, ttft_ms, is_stream, is_estimated, channel_id, `group`, ip, \
         status_code, retries, other) \
         SELECT {request_id}, {user}, {start} + n * {span} {div} {rows}, \
         CASE WHEN n % 50 = 7 THEN 5 ELSE 2 END, '', {username}, {token_name}, {token}, \
         {model}, {model}, CASE WHEN n % 50 = 7 THEN 0 ELSE 50 + n % 500 END, \
         100 + n % 900, 10 + n % 300, n % 64, 400 + n % 3000, 100 + n % 500, n % 2, 0, \
         1 + n % {CHANNELS}, 'default', '127.0.0.1', 200, 0, '' \
         FROM (SELECT {offset} + a.d * 1000 + b.d AS n FROM bench_digits a \
         CROSS JOIN bench_digits b WHERE a.d < {thousands}) s WHERE n < {end}",
        request_id = concat(&["'bench-'", &padded]),
        start = shape.start,
        rows = shape.rows.max(1),
        token_name = concat(&["'bench-key-'", &token]),
        model = concat(&["'bench-model-'", &format!("(n % {MODELS})")]),
        end = (offset + count).min(shape.rows),
    )
}

/// The sums a generated aggregate row takes from its log rows (consume rows as requests with
/// their tokens and quota, error rows as errors), in [`SUM_COLUMNS`]' order.
const SUM_COLUMNS: &str =
    "requests, errors, prompt_tokens, completion_tokens, cached_tokens, quota";
const SUMS_OF_LOGS: &str = "SUM(CASE WHEN type = 2 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN type = 5 THEN 1 ELSE 0 END), \
    SUM(CASE WHEN type = 2 THEN prompt_tokens ELSE 0 END), \
    SUM(CASE WHEN type = 2 THEN completion_tokens ELSE 0 END), \
    SUM(CASE WHEN type = 2 THEN cached_tokens ELSE 0 END), \
    SUM(CASE WHEN type = 2 THEN quota ELSE 0 END)";

/// `INSERT INTO table (key, sums) SELECT period, key, sums FROM logs WHERE id in (after,
/// up_to] GROUP BY ...`, adding to rows already there: the period (`span` seconds) is the
/// first key column, `rest` the others.
fn aggregates_of_logs(
    backend: Backend,
    table: &str,
    period: &str,
    span: i64,
    rest: &str,
    (after, up_to): (i64, i64),
) -> String {
    let sums: Vec<&str> = SUM_COLUMNS.split(", ").collect();
    let (start, upsert) = match backend {
        Backend::Sqlite => {
            let sets: Vec<String> = sums
                .iter()
                .map(|c| format!("{c} = {c} + excluded.{c}"))
                .collect();
            (
                format!("(created_at / {span}) * {span}"),
                format!(
                    "ON CONFLICT ({period}, {rest}) DO UPDATE SET {}",
                    sets.join(", ")
                ),
            )
        }
        Backend::MySqlRedis => {
            let sets: Vec<String> = sums
                .iter()
                .map(|c| format!("{c} = {c} + VALUES({c})"))
                .collect();
            (
                format!("(created_at DIV {span}) * {span}"),
                format!("ON DUPLICATE KEY UPDATE {}", sets.join(", ")),
            )
        }
    };
    format!(
        "INSERT INTO {table} ({period}, {rest}, {SUM_COLUMNS}) \
         SELECT {start} AS p, {rest}, {SUMS_OF_LOGS} \
         FROM logs WHERE id > {after} AND id <= {up_to} GROUP BY p, {rest} {upsert}"
    )
}

/// The per-key aggregates of the log rows with ids in `(after, up_to]`, added to what is there.
/// Run after each generating statement, while its rows are fresh: one grouping of the whole
/// table at 50 million rows spills to disk and took the better part of an hour on MySQL.
pub fn per_key_aggregates(backend: Backend, after: i64, up_to: i64) -> String {
    let rest = "user_id, token_id, model_name, channel_id, `group`";
    aggregates_of_logs(backend, "usage_hourly", "hour", 3600, rest, (after, up_to))
}

/// Everyone's per-minute aggregates (minute × model) of the log rows with ids in
/// `(after, up_to]`, added to what is there; run with [`per_key_aggregates`].
pub fn minute_aggregates(backend: Backend, after: i64, up_to: i64) -> String {
    let range = (after, up_to);
    aggregates_of_logs(
        backend,
        "usage_model_minutes",
        "minute",
        60,
        "model_name",
        range,
    )
}

/// Everyone's aggregates, summed from the per-key ones: hour × model × channel × group, then
/// hour × model; and the minutes marked as holding every row (the fill wrote them all).
pub fn model_aggregates() -> [&'static str; 3] {
    [
        "INSERT INTO usage_hourly_models (hour, model_name, channel_id, `group`, requests, \
         errors, prompt_tokens, completion_tokens, cached_tokens, quota) \
         SELECT hour, model_name, channel_id, `group`, SUM(requests), SUM(errors), \
         SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(quota) \
         FROM usage_hourly GROUP BY hour, model_name, channel_id, `group`",
        "INSERT INTO usage_model_hours (hour, model_name, requests, errors, prompt_tokens, \
         completion_tokens, cached_tokens, quota) \
         SELECT hour, model_name, SUM(requests), SUM(errors), SUM(prompt_tokens), \
         SUM(completion_tokens), SUM(cached_tokens), SUM(quota) \
         FROM usage_hourly_models GROUP BY hour, model_name",
        "UPDATE usage_levels SET since = 0 WHERE name = 'model_minutes'",
    ]
}

/// The users (ids 2 ..= users; 1 is root) and keys, as multi-row value lists.
pub fn user_rows(shape: &Shape) -> Vec<String> {
    (2..=shape.users)
        .map(|id| format!("({id}, 'bench-user-{id}', 'default', 1000000000)"))
        .collect()
}

/// Key rows: `(id, user_id, name, key_hash)`; the hashes are unique placeholders (the bench
/// never authenticates with these keys).
pub fn key_rows(shape: &Shape) -> Vec<String> {
    (1..=shape.keys())
        .map(|id| {
            let user = 1 + (id - 1) % shape.users;
            format!("({id}, {user}, 'bench-key-{id}', 'bench-hash-{id}', '', 1000000000)")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_every_part_for_each_dialect() {
        let shape = Shape {
            rows: 2500,
            users: 10,
            start: 1_700_000_000,
            days: 30,
        };
        let sqlite = logs_statement(Backend::Sqlite, &shape, 0, 2000);
        assert!(sqlite.contains("'bench-' || printf('%010d', n)"));
        assert!(sqlite.contains("a.d < 2") && sqlite.contains("n < 2000"));
        let mysql = logs_statement(Backend::MySqlRedis, &shape, 2000, 1000);
        assert!(mysql.contains("CONCAT('bench-', LPAD(n, 10, '0'))") && mysql.contains(" DIV "));
        assert_eq!(request_id(42), "bench-0000000042");
        assert!(
            mysql.contains("n < 2500"),
            "the last batch stops at the row count"
        );
        assert_eq!(key_rows(&shape).len(), 50);
        assert_eq!(user_rows(&shape).len(), 9);
        let mysql = per_key_aggregates(Backend::MySqlRedis, 10, 20);
        assert!(mysql.contains("DIV 3600") && mysql.contains("id > 10 AND id <= 20"));
        assert!(mysql.contains("ON DUPLICATE KEY UPDATE"));
        let sqlite = per_key_aggregates(Backend::Sqlite, 0, 5);
        assert!(sqlite.contains("ON CONFLICT") && sqlite.contains("excluded.quota"));
        assert!(model_aggregates()[0].contains("usage_hourly_models"));
        let minutes = minute_aggregates(Backend::MySqlRedis, 10, 20);
        assert!(minutes.contains("DIV 60") && minutes.contains("id > 10 AND id <= 20"));
    }
}
