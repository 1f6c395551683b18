//! Status monitors (seed 001): `status_monitors`, what the public status page shows, and
//! `status_checks`, every outcome of their checks (for uptime over a period). A check's outcome
//! is one transaction: its row and the monitor's last status.

use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

/// The kinds of monitor: an HTTP address, or a channel (its test request).
pub const MONITOR_KINDS: [&str; 2] = ["http", "channel"];

const COLUMNS: &str = "id, name, kind, target, interval_secs, timeout_secs, enabled, public, \
    sort_order, last_status, last_checked_at, last_latency_ms, last_message, created_at, \
    updated_at";

/// One monitor.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct StatusMonitorRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_secs: i64,
    pub timeout_secs: i64,
    pub enabled: i64,
    /// 1: shown on the public status page.
    pub public: i64,
    pub sort_order: i64,
    /// `up`, `down` or `unknown` (never checked).
    pub last_status: String,
    pub last_checked_at: i64,
    pub last_latency_ms: i64,
    pub last_message: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an administrator sets on a monitor.
#[derive(Debug, Clone)]
pub struct StatusMonitorFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub target: &'a str,
    pub interval_secs: i64,
    pub timeout_secs: i64,
    pub enabled: bool,
    pub public: bool,
    pub sort_order: i64,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub up: bool,
    pub latency_ms: i64,
    pub message: String,
}

/// A monitor's checks over a period: how many, how many up, and the latest ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckHistory {
    pub checks: i64,
    pub up: i64,
    /// The latest checks, oldest first: (time, up, latency ms).
    pub recent: Vec<(i64, bool, i64)>,
}

impl StatusMonitorFields<'_> {
    fn check_lengths(&self) -> Result<(), DbError> {
        super::check_lengths(
            "status_monitors",
            &[
                ("name", self.name),
                ("kind", self.kind),
                ("target", self.target),
            ],
        )
    }
}

impl Db {
    /// Every monitor (or only the public ones), in display order.
    pub async fn status_monitors(
        &self,
        public_only: bool,
    ) -> Result<Vec<StatusMonitorRow>, DbError> {
        let filter = if public_only {
            "WHERE public = 1 AND enabled = 1"
        } else {
            ""
        };
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM status_monitors {filter} ORDER BY sort_order, id"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// One monitor.
    pub async fn status_monitor(&self, id: i64) -> Result<Option<StatusMonitorRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM status_monitors WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a monitor; returns its id.
    pub async fn create_status_monitor(
        &self,
        monitor: &StatusMonitorFields<'_>,
    ) -> Result<i64, DbError> {
        monitor.check_lengths()?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO status_monitors (name, kind, target, interval_secs, timeout_secs, \
             enabled, public, sort_order, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(monitor.name)
        .bind(monitor.kind)
        .bind(monitor.target)
        .bind(monitor.interval_secs)
        .bind(monitor.timeout_secs)
        .bind(i64::from(monitor.enabled))
        .bind(i64::from(monitor.public))
        .bind(monitor.sort_order)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces a monitor's fields (its history stays); false when there is no such monitor.
    pub async fn update_status_monitor(
        &self,
        id: i64,
        monitor: &StatusMonitorFields<'_>,
    ) -> Result<bool, DbError> {
        monitor.check_lengths()?;
        sqlx::query(
            "UPDATE status_monitors SET name = ?, kind = ?, target = ?, interval_secs = ?, \
             timeout_secs = ?, enabled = ?, public = ?, sort_order = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(monitor.name)
        .bind(monitor.kind)
        .bind(monitor.target)
        .bind(monitor.interval_secs)
        .bind(monitor.timeout_secs)
        .bind(i64::from(monitor.enabled))
        .bind(i64::from(monitor.public))
        .bind(monitor.sort_order)
        .bind(now_secs())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(self.status_monitor(id).await?.is_some())
    }

    /// Deletes a monitor and its history; false when there was none.
    pub async fn delete_status_monitor(&self, id: i64) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM status_monitors WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM status_checks WHERE monitor_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// The enabled monitors whose interval has passed since their last check at `now`.
    pub async fn due_status_monitors(&self, now: i64) -> Result<Vec<StatusMonitorRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM status_monitors WHERE enabled = 1 \
             AND last_checked_at + interval_secs <= ? ORDER BY last_checked_at, id"
        )))
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a check of monitor `id` at `at`: its history row and the monitor's last status,
    /// in one transaction. False when the monitor is gone.
    pub async fn record_status_check(
        &self,
        id: i64,
        at: i64,
        outcome: &CheckOutcome,
    ) -> Result<bool, DbError> {
        let message: String = outcome.message.chars().take(500).collect();
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE status_monitors SET last_status = ?, last_checked_at = ?, \
             last_latency_ms = ?, last_message = ? WHERE id = ?",
        )
        .bind(if outcome.up { "up" } else { "down" })
        .bind(at)
        .bind(outcome.latency_ms)
        .bind(&message)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO status_checks (monitor_id, checked_at, up, latency_ms, message) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(at)
        .bind(i64::from(outcome.up))
        .bind(outcome.latency_ms)
        .bind(&message)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Monitor `id`'s checks since `since`, and the latest `recent` of them.
    pub async fn status_history(
        &self,
        id: i64,
        since: i64,
        recent: i64,
    ) -> Result<CheckHistory, DbError> {
        let (checks, up): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(up), 0) AS SIGNED) FROM status_checks \
             WHERE monitor_id = ? AND checked_at >= ?",
        )
        .bind(id)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        let mut latest: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT checked_at, up, latency_ms FROM status_checks WHERE monitor_id = ? \
             ORDER BY checked_at DESC, id DESC LIMIT ?",
        )
        .bind(id)
        .bind(recent)
        .fetch_all(self.pool())
        .await?;
        latest.reverse();
        Ok(CheckHistory {
            checks,
            up,
            recent: latest
                .into_iter()
                .map(|(at, up, latency)| (at, up == 1, latency))
                .collect(),
        })
    }

    /// Deletes checks older than `before` (the history kept is bounded).
    pub async fn prune_status_checks(&self, before: i64) -> Result<u64, DbError> {
        Ok(
            sqlx::query("DELETE FROM status_checks WHERE checked_at < ?")
                .bind(before)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
