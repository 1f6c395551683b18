//! Exports for administrators (seed 002's CSV downloads): users, orders, usage aggregates and
//! the upstream key pool (a row per key of each channel, seed 004), read in id order a batch at
//! a time, so an export of any size holds one batch in memory. Secrets (passwords, keys,
//! tokens) are never exported: a key shows masked.

use super::{Db, DbError};
use crate::upstream_keys;
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
                "channel_id",
                "channel_name",
                "type",
                "channel_status",
                "group",
                "key_index",
                "key",
                "key_status",
                "disabled_reason",
                "disabled_time",
                "balance",
                "balance_updated_time",
                "used_quota",
                "response_time",
                "test_time",
            ],
        }
    }

    /// The query of one batch after an id (its columns in header order).
    fn query(self) -> String {
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
            // Expanded to a row per key by [`key_rows`].
            Export::UpstreamKeys => (
                "id, name, type, status, `group`, `keys`, used_quota, response_time, test_time"
                    .to_string(),
                "channels WHERE",
            ),
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
                let sql = export.query();
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(after)
                    .fetch_all(db.pool())
                    .await?;
                if rows.is_empty() {
                    return Ok(None);
                }
                let columns = match export {
                    Export::UpstreamKeys => 9,
                    _ => export.header().len(),
                };
                let mut last = after;
                let mut batch: Vec<Vec<String>> = Vec::with_capacity(rows.len());
                for row in &rows {
                    last = row.try_get::<i64, _>(0).unwrap_or(last);
                    batch.push((0..columns).map(|i| text_of(row, i)).collect());
                }
                let next = (i64::try_from(rows.len()).unwrap_or(0) == BATCH).then_some(last);
                if export == Export::UpstreamKeys {
                    batch = key_rows(&db, batch).await?;
                }
                Ok(Some((batch, next)))
            }
        })
    }
}

/// The channels of a batch (id, name, type, status, group, keys, used quota, response time,
/// test time) as a row per key: the key masked, with its status, disabled reason and time, and
/// last known balance (exact USD; empty when never read).
async fn key_rows(db: &Db, channels: Vec<Vec<String>>) -> Result<Vec<Vec<String>>, DbError> {
    let ids: Vec<i64> = channels
        .iter()
        .filter_map(|c| c.first()?.parse().ok())
        .collect();
    let states = db.channel_key_states_of(&ids).await?;
    let mut rows = Vec::new();
    for channel in channels {
        let [id, name, kind, status, group, keys, used, response, test] =
            <[String; 9]>::try_from(channel).unwrap_or_default();
        let (channel_id, kind_number) = (id.parse().unwrap_or(0), kind.parse().unwrap_or(0));
        for key in upstream_keys::pool(channel_id, kind_number, &keys, &states) {
            let (balance, checked) = key.balance().map_or((String::new(), String::new()), |b| {
                (upstream_keys::micros_text(b.0), b.1.to_string())
            });
            rows.push(vec![
                id.clone(),
                name.clone(),
                kind.clone(),
                status.clone(),
                group.clone(),
                key.index.to_string(),
                upstream_keys::mask(key.key),
                key.status().to_string(),
                key.reason().to_string(),
                key.disabled_time().to_string(),
                balance,
                checked,
                used.clone(),
                response.clone(),
                test.clone(),
            ]);
        }
    }
    Ok(rows)
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
