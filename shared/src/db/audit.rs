//! The `audit_log` table: every change an administrator asked for, who, what and when (see the
//! migration). Written by the control plane's route guard after the handler answered.

use super::{Db, DbError};
use sqlx::AssertSqlSafe;

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub method: String,
    /// The route table's path (`/api/channel/{id}`).
    pub route: String,
    /// The path called (`/api/channel/7`).
    pub path: String,
    pub status: i64,
    /// new-api's `success` of the answer (1) or not (0).
    pub success: i64,
    pub ip: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, username, method, route, path, status, success, ip, created_at";

impl Db {
    /// Records one audited call (`id` is ignored).
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), DbError> {
        let path: String = entry.path.chars().take(512).collect();
        sqlx::query(
            "INSERT INTO audit_log (user_id, username, method, route, path, status, success, \
             ip, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.user_id)
        .bind(&entry.username)
        .bind(&entry.method)
        .bind(&entry.route)
        .bind(path)
        .bind(entry.status)
        .bind(entry.success)
        .bind(&entry.ip)
        .bind(entry.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A page of the audit log, newest first (of one administrator, or everyone's), and how
    /// many entries there are in all.
    pub async fn audit_page(
        &self,
        user_id: Option<i64>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, i64), DbError> {
        let clause = if user_id.is_some() {
            "WHERE user_id = ?"
        } else {
            ""
        };
        let mut rows = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log {clause} ORDER BY id DESC LIMIT ? OFFSET ?"
        )));
        let mut count = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_log {clause}"
        )));
        if let Some(user_id) = user_id {
            rows = rows.bind(user_id);
            count = count.bind(user_id);
        }
        let rows = rows.bind(limit).bind(offset).fetch_all(self.pool()).await?;
        let total: i64 = count.fetch_one(self.pool()).await?;
        Ok((rows, total))
    }
}
