//! Everyone's bars of new-api's dashboard (`/api/data/`), one per model and hour, read from
//! `usage_model_hours` packed one row per hour: the database joins an hour's bars into one
//! text (`model \t requests \t quota \t tokens`, a line each) and this module splits it. A
//! month is 720 rows instead of 35 000 (50 models): the driver's cost per row, not the
//! database's reading, was most of the answer's time (SQLite: 60 ms of 65; packed: 15).
//!
//! A model name with a tab or a line break in it, or an hour's text cut short by the
//! database's length limit, would not split into the hour's count of bars: the range is then
//! read a row per bar instead, so the answer is the same either way.

use super::{Db, DbError, Dialect, QuotaDatum};
use sqlx::AssertSqlSafe;

/// One hour's bars as the database packs them.
type PackedHour = (i64, i64, String);

impl Db {
    /// Everyone's bars for hours starting in `[start, end]`, by hour, then model name.
    pub(super) async fn everyones_quota_bars(
        &self,
        start: i64,
        end: i64,
    ) -> Result<Vec<QuotaDatum>, DbError> {
        let packed: Vec<PackedHour> = sqlx::query_as(AssertSqlSafe(packed_sql(self.dialect)))
            .bind(start)
            .bind(end)
            .fetch_all(self.pool())
            .await?;
        if let Some(bars) = unpack(&packed) {
            return Ok(bars);
        }
        Ok(sqlx::query_as(
            "SELECT model_name, hour AS created_at, requests AS count, quota, \
             prompt_tokens + completion_tokens AS token_used \
             FROM usage_model_hours WHERE hour >= ? AND hour <= ? AND requests > 0 \
             ORDER BY hour, model_name",
        )
        .bind(start)
        .bind(end)
        .fetch_all(self.pool())
        .await?)
    }
}

/// The hour, its count of bars and its bars packed into one text.
fn packed_sql(dialect: Dialect) -> String {
    let packed = match dialect {
        Dialect::Sqlite => {
            "group_concat(model_name || char(9) || requests || char(9) || quota || char(9) \
             || (prompt_tokens + completion_tokens), char(10))"
        }
        Dialect::MySql => {
            "GROUP_CONCAT(CONCAT_WS('\\t', model_name, requests, quota, \
             prompt_tokens + completion_tokens) SEPARATOR '\\n')"
        }
    };
    format!(
        "SELECT hour, COUNT(*) AS bars, {packed} AS packed FROM usage_model_hours \
         WHERE hour >= ? AND hour <= ? AND requests > 0 GROUP BY hour ORDER BY hour"
    )
}

/// The bars of packed hours, each hour's by model name; `None` if an hour does not split
/// into as many bars as it counts.
fn unpack(hours: &[PackedHour]) -> Option<Vec<QuotaDatum>> {
    let total = hours.iter().map(|(_, bars, _)| *bars).sum::<i64>();
    let mut bars = Vec::with_capacity(usize::try_from(total).ok()?);
    for (hour, count, packed) in hours {
        let first = bars.len();
        for line in packed.split('\n') {
            bars.push(bar(*hour, line)?);
        }
        if i64::try_from(bars.len() - first).ok()? != *count {
            return None;
        }
        bars[first..].sort_unstable_by(|a, b| a.model_name.cmp(&b.model_name));
    }
    Some(bars)
}

/// One bar: `model \t requests \t quota \t tokens`.
fn bar(hour: i64, line: &str) -> Option<QuotaDatum> {
    let mut fields = line.split('\t');
    let model_name = fields.next()?.to_string();
    let mut number = || fields.next()?.parse::<i64>().ok();
    let (count, quota, token_used) = (number()?, number()?, number()?);
    if fields.next().is_some() {
        return None;
    }
    Some(QuotaDatum {
        model_name,
        created_at: hour,
        count,
        quota,
        token_used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(model: &str, hour: i64, count: i64, quota: i64, tokens: i64) -> QuotaDatum {
        QuotaDatum {
            model_name: model.into(),
            created_at: hour,
            count,
            quota,
            token_used: tokens,
        }
    }

    #[test]
    fn packed_hours_split_into_bars_by_model() {
        let hours = [
            (3600, 2, "gpt-b\t1\t20\t30\ngpt-a\t2\t40\t50".to_string()),
            (7200, 1, "gpt-a\t3\t60\t70".to_string()),
        ];
        assert_eq!(
            unpack(&hours),
            Some(vec![
                datum("gpt-a", 3600, 2, 40, 50),
                datum("gpt-b", 3600, 1, 20, 30),
                datum("gpt-a", 7200, 3, 60, 70),
            ])
        );
        assert_eq!(unpack(&[]), Some(vec![]));
    }

    #[test]
    fn names_that_do_not_split_are_refused() {
        // A tab or a line break in a name, a text cut short, a field that is not a number.
        for (count, packed) in [
            (1, "odd\tname\t1\t2\t3"),
            (1, "odd\nname\t1\t2\t3"),
            (2, "gpt-a\t1\t2\t3"),
            (1, "gpt-a\t1\t2"),
            (1, "gpt-a\t1\tx\t3"),
        ] {
            assert_eq!(
                unpack(&[(3600, count, packed.to_string())]),
                None,
                "{packed:?}"
            );
        }
    }
}
