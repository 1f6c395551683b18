//! The `announcements` table (seed 001): site announcements written by administrators; the
//! public list shows the enabled ones, lower `sort_order` first.

use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

const COLUMNS: &str = "id, title, content, enabled, sort_order, created_time, updated_time";

/// One announcement.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AnnouncementRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    /// 1 shown to everyone, 0 hidden.
    pub enabled: i64,
    /// Lower first.
    pub sort_order: i64,
    pub created_time: i64,
    pub updated_time: i64,
}

/// What an administrator sets on an announcement.
#[derive(Debug, Clone)]
pub struct AnnouncementFields<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub enabled: bool,
    pub sort_order: i64,
}

impl Db {
    /// Every announcement (or only the enabled ones), lower `sort_order` first, then newest.
    pub async fn announcements(&self, enabled_only: bool) -> Result<Vec<AnnouncementRow>, DbError> {
        let condition = if enabled_only { "enabled = 1" } else { "1 = 1" };
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM announcements WHERE {condition} ORDER BY sort_order, id DESC"
        )))
        .fetch_all(self.pool())
        .await?)
    }

    /// One announcement.
    pub async fn announcement(&self, id: i64) -> Result<Option<AnnouncementRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM announcements WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates an announcement; answers its id.
    pub async fn create_announcement(
        &self,
        fields: &AnnouncementFields<'_>,
    ) -> Result<i64, DbError> {
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO announcements (title, content, enabled, sort_order, created_time, \
             updated_time) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(fields.title)
        .bind(fields.content)
        .bind(i64::from(fields.enabled))
        .bind(fields.sort_order)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        super::inserted_id(&mut conn, self.dialect(), &result).await
    }

    /// Replaces announcement `id`'s fields; answers whether it exists.
    pub async fn update_announcement(
        &self,
        id: i64,
        fields: &AnnouncementFields<'_>,
    ) -> Result<bool, DbError> {
        let updated = sqlx::query(
            "UPDATE announcements SET title = ?, content = ?, enabled = ?, sort_order = ?, \
             updated_time = ? WHERE id = ?",
        )
        .bind(fields.title)
        .bind(fields.content)
        .bind(i64::from(fields.enabled))
        .bind(fields.sort_order)
        .bind(now_secs())
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        // MySQL counts only changed rows: an update to the same values still found it.
        Ok(updated == 1 || self.announcement(id).await?.is_some())
    }

    /// Deletes announcement `id`; answers whether it existed.
    pub async fn delete_announcement(&self, id: i64) -> Result<bool, DbError> {
        Ok(sqlx::query("DELETE FROM announcements WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected()
            == 1)
    }
}
