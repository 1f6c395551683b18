//! A table's secondary indexes set aside for a bulk fill: dropped before the rows go in and
//! built again afterwards from their own definitions, as a database restore does. Building an
//! index once from sorted rows is many times faster than keeping it up to date row by row
//! (MySQL's `ALTER TABLE ... ADD INDEX` sorts; SQLite's `CREATE INDEX` too), and the table ends
//! with exactly the indexes its migrations made. `pylon-logs` uses it for `logs`.

use crate::fresh::Backend;
use sqlx::{AnyPool, Executor, Row};

/// The statements that build a table's secondary indexes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    rebuild: Vec<String>,
}

/// Drops every secondary index of `table` that can be dropped (SQLite keeps the indexes of
/// `UNIQUE` constraints, which have no definition of their own) and answers how to build them.
pub async fn set_aside(pool: &AnyPool, backend: Backend, table: &str) -> anyhow::Result<SetAside> {
    let rebuild = match backend {
        Backend::Sqlite => {
            let rows = sqlx::query(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .bind(table)
            .fetch_all(pool)
            .await?;
            let mut rebuild = Vec::with_capacity(rows.len());
            for row in rows {
                let name: String = row.try_get("name")?;
                pool.execute(sqlx::AssertSqlSafe(format!("DROP INDEX `{name}`")))
                    .await?;
                rebuild.push(row.try_get("sql")?);
            }
            rebuild
        }
        Backend::MySqlRedis => {
            let rows = sqlx::query(
                "SELECT index_name, CAST(non_unique AS SIGNED) AS non_unique, column_name, \
                 CAST(sub_part AS SIGNED) AS sub_part FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY' \
                 ORDER BY index_name, seq_in_index",
            )
            .bind(table)
            .fetch_all(pool)
            .await?;
            let mut parts = Vec::new();
            for row in &rows {
                parts.push(MySqlIndexPart {
                    index: row.try_get("index_name")?,
                    unique: row.try_get::<i64, _>("non_unique")? == 0,
                    column: row.try_get("column_name")?,
                    prefix: row.try_get::<Option<i64>, _>("sub_part")?,
                });
            }
            let (drop, add) = mysql_statements(table, &parts);
            if let Some(drop) = drop {
                pool.execute(sqlx::AssertSqlSafe(drop)).await?;
            }
            add.into_iter().collect()
        }
    };
    Ok(SetAside { rebuild })
}

impl SetAside {
    /// Builds the indexes again.
    pub async fn rebuild(self, pool: &AnyPool) -> anyhow::Result<()> {
        for statement in self.rebuild {
            pool.execute(sqlx::AssertSqlSafe(statement)).await?;
        }
        Ok(())
    }

    /// How many statements [`SetAside::rebuild`] runs.
    pub fn statements(&self) -> usize {
        self.rebuild.len()
    }
}

/// One column of a MySQL index, in `information_schema.statistics` order.
#[derive(Debug, Clone)]
struct MySqlIndexPart {
    index: String,
    unique: bool,
    column: String,
    prefix: Option<i64>,
}

/// One `ALTER TABLE` dropping every index and one adding them all back (MySQL builds them in
/// one pass over the table).
fn mysql_statements(table: &str, parts: &[MySqlIndexPart]) -> (Option<String>, Option<String>) {
    let mut indexes: Vec<(&str, bool, Vec<String>)> = Vec::new();
    for part in parts {
        let column = match part.prefix {
            Some(length) => format!("`{}`({length})", part.column),
            None => format!("`{}`", part.column),
        };
        match indexes.last_mut() {
            Some((name, _, columns)) if *name == part.index => columns.push(column),
            _ => indexes.push((&part.index, part.unique, vec![column])),
        }
    }
    if indexes.is_empty() {
        return (None, None);
    }
    let drops: Vec<String> = indexes
        .iter()
        .map(|(name, ..)| format!("DROP INDEX `{name}`"))
        .collect();
    let adds: Vec<String> = indexes
        .iter()
        .map(|(name, unique, columns)| {
            let kind = if *unique { "UNIQUE INDEX" } else { "INDEX" };
            format!("ADD {kind} `{name}` ({})", columns.join(", "))
        })
        .collect();
    (
        Some(format!("ALTER TABLE `{table}` {}", drops.join(", "))),
        Some(format!("ALTER TABLE `{table}` {}", adds.join(", "))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: &str, unique: bool, column: &str, prefix: Option<i64>) -> MySqlIndexPart {
        MySqlIndexPart {
            index: index.into(),
            unique,
            column: column.into(),
            prefix,
        }
    }

    #[test]
    fn mysql_indexes_are_dropped_and_added_back_with_their_columns_in_order() {
        let parts = [
            part("idx_logs_user_time", false, "user_id", None),
            part("idx_logs_user_time", false, "created_at", None),
            part("request_id", true, "request_id", None),
            part("idx_logs_model", false, "model_name", Some(191)),
        ];
        let (drop, add) = mysql_statements("logs", &parts);
        assert_eq!(
            drop.as_deref(),
            Some(
                "ALTER TABLE `logs` DROP INDEX `idx_logs_user_time`, DROP INDEX `request_id`, \
                 DROP INDEX `idx_logs_model`"
            )
        );
        assert_eq!(
            add.as_deref(),
            Some(
                "ALTER TABLE `logs` ADD INDEX `idx_logs_user_time` (`user_id`, `created_at`), \
                 ADD UNIQUE INDEX `request_id` (`request_id`), \
                 ADD INDEX `idx_logs_model` (`model_name`(191))"
            )
        );
        assert_eq!(mysql_statements("logs", &[]), (None, None));
    }
}
