//! The query planner's statistics. SQLite plans without them unless `ANALYZE` ran, guessing
//! every index equally selective; with sampled statistics (`sqlite_stat1`) it can tell a
//! selective index from one that matches most rows (connections load them with the schema).
//! InnoDB keeps its own, so MySQL needs nothing here.

use super::{Db, DbError, Dialect};
use sqlx::Executor;

/// Rows sampled per index: enough to tell a selective index from an unselective one, and a
/// few milliseconds however large the tables are.
const ANALYSIS_LIMIT: u32 = 400;

impl Db {
    /// Refreshes the planner's statistics of every table (SQLite: a sampled `ANALYZE`).
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
        conn.execute("ANALYZE").await?;
        conn.execute("PRAGMA analysis_limit = 0").await?;
        Ok(())
    }
}
