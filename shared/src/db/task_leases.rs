//! Leases on unfinished asynchronous tasks (the `tasks` and `midjourneys` tables): a poll
//! claims a row by a conditional update of its `lease_until` (free, or expired), so that one
//! node at a time polls a task however many control planes run.

use super::tasks::{TASK_FAILURE, TASK_SUCCESS};
use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

/// A table of tasks polled under leases.
pub(super) struct LeasedTasks {
    pub table: &'static str,
    /// Its columns, as its row type reads them.
    pub columns: &'static str,
    /// What, besides a status other than `SUCCESS` and `FAILURE`, makes a row unfinished
    /// (SQL, ending in `AND`; empty when nothing does).
    pub also_unfinished: &'static str,
}

/// A task row's primary key.
pub(super) trait TaskId {
    fn id(&self) -> i64;
}

impl Db {
    /// Claims up to `limit` unfinished rows of `tasks` for one poll, oldest first; the lease
    /// lasts `lease_secs`. Answers the rows claimed.
    pub(super) async fn claim_leased<R>(
        &self,
        tasks: &LeasedTasks,
        limit: i64,
        lease_secs: i64,
    ) -> Result<Vec<R>, DbError>
    where
        R: for<'r> sqlx::FromRow<'r, AnyRow> + TaskId + Send + Unpin,
    {
        let now = now_secs();
        let unfinished = format!("{} status <> ? AND status <> ?", tasks.also_unfinished);
        let candidates: Vec<R> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE {unfinished} AND lease_until < ? ORDER BY id LIMIT ?",
            tasks.columns, tasks.table
        )))
        .bind(TASK_SUCCESS)
        .bind(TASK_FAILURE)
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let take = format!(
            "UPDATE {} SET lease_until = ? WHERE id = ? AND lease_until < ? AND {unfinished}",
            tasks.table
        );
        let mut claimed = Vec::with_capacity(candidates.len());
        for task in candidates {
            let taken = sqlx::query(AssertSqlSafe(take.clone()))
                .bind(now + lease_secs)
                .bind(task.id())
                .bind(now)
                .bind(TASK_SUCCESS)
                .bind(TASK_FAILURE)
                .execute(self.pool())
                .await?
                .rows_affected();
            if taken == 1 {
                claimed.push(task);
            }
        }
        Ok(claimed)
    }

    /// Frees the lease of row `id` of `tasks` (a poll that learned nothing), so the next poll
    /// takes it.
    pub(super) async fn release_leased(&self, tasks: &LeasedTasks, id: i64) -> Result<(), DbError> {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {} SET lease_until = 0 WHERE id = ?",
            tasks.table
        )))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
