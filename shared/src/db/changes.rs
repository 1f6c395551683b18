//! The `change_events` table: the durable change feed. Every process polls it for events newer
//! than the last it saw; with Redis, pub/sub delivers the same events sooner.

use super::{Db, DbError, now_secs};
use crate::changes::Topic;

/// One change: `topic` names what changed (see `crate::changes::Topic`), `entity_id` which one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChangeEvent {
    pub id: i64,
    pub topic: String,
    pub entity_id: i64,
}

/// Appends an event inside the transaction of the change it announces, and returns it with its
/// id (announce it after the commit: `ChangeFeed::announce`).
pub(crate) async fn append_change_in(
    conn: &mut sqlx::AnyConnection,
    dialect: super::Dialect,
    topic: Topic,
    entity_id: i64,
) -> Result<ChangeEvent, DbError> {
    let result =
        sqlx::query("INSERT INTO change_events (topic, entity_id, created_at) VALUES (?, ?, ?)")
            .bind(topic.as_str())
            .bind(entity_id)
            .bind(now_secs())
            .execute(&mut *conn)
            .await?;
    Ok(ChangeEvent {
        id: super::inserted_id(conn, dialect, &result).await?,
        topic: topic.as_str().to_string(),
        entity_id,
    })
}

impl Db {
    /// Appends an event and returns it with its id.
    pub async fn append_change(&self, topic: &str, entity_id: i64) -> Result<ChangeEvent, DbError> {
        let mut conn = self.pool().acquire().await?;
        let result = sqlx::query(
            "INSERT INTO change_events (topic, entity_id, created_at) VALUES (?, ?, ?)",
        )
        .bind(topic)
        .bind(entity_id)
        .bind(now_secs())
        .execute(&mut *conn)
        .await?;
        Ok(ChangeEvent {
            id: super::inserted_id(&mut conn, self.dialect(), &result).await?,
            topic: topic.to_string(),
            entity_id,
        })
    }

    /// Events after `after_id`, oldest first, at most `limit`.
    pub async fn changes_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ChangeEvent>, DbError> {
        Ok(sqlx::query_as(
            "SELECT id, topic, entity_id FROM change_events WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest event id (0 when there is none): where a new subscriber starts.
    pub async fn latest_change_id(&self) -> Result<i64, DbError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM change_events")
            .fetch_one(self.pool())
            .await?;
        Ok(id.unwrap_or(0))
    }

    /// Deletes events older than `max_age_secs`.
    pub async fn purge_changes(&self, max_age_secs: i64) -> Result<u64, DbError> {
        let result = sqlx::query("DELETE FROM change_events WHERE created_at < ?")
            .bind(now_secs() - max_age_secs)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}
