//! Exports for administrators (seed 002's CSV downloads): users, orders, usage aggregates and
//! the upstream channels' state, read in id order a batch at a time, so an export of any size
//! holds one batch in memory. Secrets (passwords, keys, tokens) are never exported.

use super::{Db, DbError};
use futures::Stream;
use sqlx::{AssertSqlSafe, Row};

/// Rows read per statement.
const BATCH: i64 = 1_000;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Users,
    Orders,
    Usage,
    UpstreamKeys,
}

impl Export {
    /// The CSV header.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Export::Users => &[
                "id",
                "username",
                "display_name",
                "email",
                "role",
                "status",
                "group",
                "quota",
                "used_quota",
                "request_count",
                "created_at",
            ],
            Export::Orders => &[
                "id",
                "user_id",
                "trade_no",
                "payment_method",
                "payment_provider",
                "status",
                "amount",
                "quota",
                "money_cents",
                "currency",
                "create_time",
                "complete_time",
                "plan_id",
                "subscription_plan_id",
            ],
            Export::Usage => &[
                "id",
                "hour",
                "user_id",
                "token_id",
                "model_name",
                "channel_id",
                "group",
                "requests",
                "errors",
                "prompt_tokens",
                "completion_tokens",
                "cached_tokens",
                "quota",
            ],
            Export::UpstreamKeys => &[
                "id",
                "name",
                "type",
                "status",
                "group",
                "keys",
                "used_quota",
                "balance",
                "response_time",
                "test_time",
            ],
        }
    }

    /// The query of one batch after an id (its columns in header order).
    fn query(self, dialect: super::Dialect) -> String {
        let (columns, table) = match self {
            Export::Users => (
                "id, username, display_name, email, role, status, `group`, quota, used_quota, \
                 request_count, created_at"
                    .to_string(),
                "users WHERE deleted_at IS NULL AND",
            ),
            Export::Orders => (
                "id, user_id, trade_no, payment_method, payment_provider, status, amount, quota, \
                 money_cents, currency, create_time, complete_time, plan_id, subscription_plan_id"
                    .to_string(),
                "top_ups WHERE",
            ),
            Export::Usage => (
                "id, hour, user_id, token_id, model_name, channel_id, `group`, requests, errors, \
                 prompt_tokens, completion_tokens, cached_tokens, quota"
                    .to_string(),
                "usage_hourly WHERE",
            ),
            Export::UpstreamKeys => {
                // How many keys (one a line of `keys`), never the keys.
                let newline = match dialect {
                    super::Dialect::MySql => "'\\n'",
                    super::Dialect::Sqlite => "char(10)",
                };
                (
                    format!(
                        "id, name, type, status, `group`, CASE WHEN `keys` = '' THEN 0 ELSE \
                         LENGTH(`keys`) - LENGTH(REPLACE(`keys`, {newline}, '')) + 1 END, \
                         used_quota, balance, response_time, test_time"
                    ),
                    "channels WHERE",
                )
            }
        };
        format!("SELECT {columns} FROM {table} id > ? ORDER BY id LIMIT {BATCH}")
    }
}

impl Db {
    /// The rows of `export`, a batch at a time, each row its fields as text in header order.
    pub fn export_batches(
        &self,
        export: Export,
    ) -> impl Stream<Item = Result<Vec<Vec<String>>, DbError>> + Send + 'static {
        let db = self.clone();
        futures::stream::try_unfold(Some(0_i64), move |after| {
            let db = db.clone();
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let sql = export.query(db.dialect());
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(after)
                    .fetch_all(db.pool())
                    .await?;
                if rows.is_empty() {
                    return Ok(None);
                }
                let columns = export.header().len();
                let mut last = after;
                let mut batch = Vec::with_capacity(rows.len());
                for row in &rows {
                    last = row.try_get::<i64, _>(0).unwrap_or(last);
                    batch.push((0..columns).map(|i| text_of(row, i)).collect());
                }
                let next = (i64::try_from(rows.len()).unwrap_or(0) == BATCH).then_some(last);
                Ok(Some((batch, next)))
            }
        })
    }
}

/// A column as text, whatever its type.
fn text_of(row: &sqlx::any::AnyRow, index: usize) -> String {
    if let Ok(value) = row.try_get::<i64, _>(index) {
        return value.to_string();
    }
    if let Ok(value) = row.try_get::<f64, _>(index) {
        return value.to_string();
    }
    row.try_get::<String, _>(index).unwrap_or_default()
}

/// One CSV line: fields quoted when they hold a comma, quote or line break; a field a
/// spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`.
pub fn csv_line(fields: &[String]) -> String {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let numeric = field.parse::<f64>().is_ok();
        let mut value = field.clone();
        if !numeric && value.starts_with(['=', '+', '-', '@']) {
            value.insert(0, '\'');
        }
        if value.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&value.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&value);
        }
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::csv_line;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let fields = ["1", "a,b", "say \"hi\"", "=SUM(A1)", "-5", "x\ny"].map(String::from);
        assert_eq!(
            csv_line(&fields),
            "1,\"a,b\",\"say \"\"hi\"\"\",'=SUM(A1),-5,\"x\ny\"\r\n"
        );
    }
}
