//! Reading rows one by one, so that data can never stop a process: a row that does not decode
//! (SQLite lets any column hold a REAL or text, a hand-written row may hold anything) is
//! reported with its table and id, counted, and skipped; the others load. Every loader a
//! process runs at start (channels, options, the keys and users the proxy holds, balances)
//! reads through here.

use super::{Db, DbError};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, FromRow, Row};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Rows skipped since start, by table.
static SKIPPED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// A statement whose rows are decoded one by one.
pub(crate) type RawQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// Rows skipped because they did not decode, by table, since the process started.
pub fn skipped_rows() -> Vec<(&'static str, u64)> {
    SKIPPED
        .lock()
        .map(|counts| counts.iter().map(|(t, n)| (*t, *n)).collect())
        .unwrap_or_default()
}

/// The counter each process registers as `db_rows_skipped_total{table}` and keeps current with
/// [`export_skipped_rows`].
pub fn skipped_rows_counter() -> prometheus::Result<prometheus::IntCounterVec> {
    prometheus::IntCounterVec::new(
        prometheus::Opts::new(
            "db_rows_skipped_total",
            "Stored rows skipped at a load because they could not be read, by table",
        ),
        &["table"],
    )
}

/// Brings `counter` (labelled by `table`) up to [`skipped_rows`]: each process exports the
/// count as `db_rows_skipped_total{table}` in its own registry.
pub fn export_skipped_rows(counter: &prometheus::IntCounterVec) {
    for (table, count) in skipped_rows() {
        let exported = counter.with_label_values(&[table]);
        let now = exported.get();
        if count > now {
            exported.inc_by(count - now);
        }
    }
}

/// Reports a stored row that cannot be used (it did not decode, or a value in it is invalid):
/// logged with its table and id, and counted.
pub fn report_bad_row(table: &'static str, id: &str, problem: &dyn std::fmt::Display) {
    tracing::warn!(table, id, %problem, "skipped a stored row that cannot be read");
    if let Ok(mut counts) = SKIPPED.lock() {
        *counts.entry(table).or_default() += 1;
    }
}

/// Decodes `row` as `T`; `None` (reported) when it does not decode.
pub(crate) fn decode<T>(table: &'static str, row: &AnyRow) -> Option<T>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    match T::from_row(row) {
        Ok(value) => Some(value),
        Err(error) => {
            report_bad_row(table, &row_id(row), &error);
            None
        }
    }
}

/// The row's `id` as text, whatever it holds ("?" when it has none readable).
fn row_id(row: &AnyRow) -> String {
    if let Ok(id) = row.try_get::<i64, _>("id") {
        return id.to_string();
    }
    if let Ok(id) = row.try_get::<String, _>("id") {
        return id;
    }
    row.try_get::<f64, _>("id")
        .map_or_else(|_| "?".to_string(), |id| id.to_string())
}

impl Db {
    /// Every row of `query` that decodes as `T`; the others are reported and skipped.
    pub(crate) async fn fetch_decoded<T>(
        &self,
        table: &'static str,
        query: RawQuery<'_>,
    ) -> Result<Vec<T>, DbError>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let rows = query.fetch_all(self.pool()).await?;
        Ok(rows.iter().filter_map(|row| decode(table, row)).collect())
    }

    /// The row of `query`, if any and if it decodes as `T` (else reported, and `None`).
    pub(crate) async fn fetch_optional_decoded<T>(
        &self,
        table: &'static str,
        query: RawQuery<'_>,
    ) -> Result<Option<T>, DbError>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let row = query.fetch_optional(self.pool()).await?;
        Ok(row.and_then(|row| decode(table, &row)))
    }
}
