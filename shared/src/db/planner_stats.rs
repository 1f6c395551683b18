//! The query planner's statistics. SQLite plans without them unless `ANALYZE` ran, guessing
//! every index equally selective; with sampled statistics (`sqlite_stat1`) it can tell a
//! selective index from one that matches most rows (connections load them with the schema).
//! InnoDB keeps its own, so MySQL needs nothing here.
//!
//! `ANALYZE` writes its results in one transaction, holding the database's write lock while it
//! reads: on SQLite 3.51 a sampled analysis of a 50-million-row `logs` table (eleven indexes)
//! took 7.4 s, and logins and settlements waiting on the lock failed after their 10 s busy
//! timeout. So only the tables SQLite itself finds out of date (`PRAGMA optimize`: no
//! statistics yet, or a size many times over what they were taken at) are analysed, one index
//! at a time, each its own short transaction (0.2 to 0.7 s at that size).

use super::{Db, DbError, Dialect};
use sqlx::Executor;

/// Rows sampled per index: enough to tell a selective index from an unselective one.
const ANALYSIS_LIMIT: u32 = 400;

/// `PRAGMA optimize`'s mask: check every table (0x10000) for an `ANALYZE` (0x2), and only list
/// what it would run (0x1).
const LIST_DUE_ANALYSES: &str = "PRAGMA optimize = 0x10003";

impl Db {
    /// Refreshes the planner's statistics of the tables whose statistics are missing or out of
    /// date (SQLite: sampled, index by index).
    pub async fn refresh_planner_statistics(&self) -> Result<(), DbError> {
        if self.dialect() != Dialect::Sqlite {
            return Ok(());
        }
        let mut conn = self.pool().acquire().await?;
        // The limit is a setting of the connection that runs the analysis.
        conn.execute(sqlx::AssertSqlSafe(format!(
            "PRAGMA analysis_limit = {ANALYSIS_LIMIT}"
        )))
        .await?;
        let due: Vec<String> = sqlx::query_scalar(LIST_DUE_ANALYSES)
            .fetch_all(&mut *conn)
            .await?;
        for table in due.iter().filter_map(|line| analysed_table(line)) {
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? \
                 ORDER BY name",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?;
            let targets = if indexes.is_empty() {
                vec![table.to_string()]
            } else {
                indexes
            };
            for target in targets {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "ANALYZE \"{}\"",
                    target.replace('"', "\"\"")
                )))
                .await?;
            }
        }
        conn.execute("PRAGMA analysis_limit = 0").await?;
        Ok(())
    }
}

/// The table of a line `PRAGMA optimize` lists: `ANALYZE "main"."logs"` → `logs`.
fn analysed_table(line: &str) -> Option<&str> {
    let name = line
        .strip_prefix("ANALYZE \"main\".\"")?
        .strip_suffix('"')?;
    (!name.is_empty() && !name.contains('"')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::analysed_table;

    #[test]
    fn the_tables_due_are_read_from_optimize_lines() {
        assert_eq!(analysed_table("ANALYZE \"main\".\"logs\""), Some("logs"));
        assert_eq!(analysed_table("ANALYZE \"temp\".\"x\""), None);
        assert_eq!(analysed_table("something else"), None);
        assert_eq!(analysed_table("ANALYZE \"main\".\"\""), None);
    }
}
