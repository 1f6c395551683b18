//! The `prefill_groups` table: new-api's named, reusable lists (of models, tags or endpoints,
//! by `type`) that the console offers when filling in a channel or a key. Names are unique.

use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

const COLUMNS: &str = "id, name, type, items, description, created_time, updated_time";

/// One prefill group; `items` is its JSON array text.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PrefillGroupRow {
    pub id: i64,
    pub name: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub items: String,
    pub description: String,
    pub created_time: i64,
    pub updated_time: i64,
}

/// What an administrator sets on a prefill group.
#[derive(Debug, Clone, Copy)]
pub struct PrefillGroupFields<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    /// JSON array text.
    pub items: &'a str,
    pub description: &'a str,
}

/// What became of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefillWrite {
    Done(PrefillGroupRow),
    /// Another group has this name.
    NameTaken,
    NotFound,
}

impl Db {
    /// Every group (or those of one type), most recently changed first.
    pub async fn prefill_groups(&self, kind: &str) -> Result<Vec<PrefillGroupRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM prefill_groups WHERE (? = '' OR type = ?) \
             ORDER BY updated_time DESC, id DESC"
        )))
        .bind(kind)
        .bind(kind)
        .fetch_all(self.pool())
        .await?)
    }

    async fn prefill_group(&self, id: i64) -> Result<Option<PrefillGroupRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM prefill_groups WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a group.
    pub async fn create_prefill_group(
        &self,
        fields: PrefillGroupFields<'_>,
    ) -> Result<PrefillWrite, DbError> {
        check(fields)?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let inserted = sqlx::query(
            "INSERT INTO prefill_groups (name, type, items, description, created_time, \
             updated_time) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(fields.name)
        .bind(fields.kind)
        .bind(fields.items)
        .bind(fields.description)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await;
        let result = match inserted {
            Ok(result) => result,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(PrefillWrite::NameTaken);
            }
            Err(e) => return Err(e.into()),
        };
        let id = super::inserted_id(&mut conn, self.dialect(), &result).await?;
        drop(conn);
        Ok(match self.prefill_group(id).await? {
            Some(row) => PrefillWrite::Done(row),
            None => PrefillWrite::NotFound,
        })
    }

    /// Replaces a group's fields.
    pub async fn update_prefill_group(
        &self,
        id: i64,
        fields: PrefillGroupFields<'_>,
    ) -> Result<PrefillWrite, DbError> {
        check(fields)?;
        let updated = sqlx::query(
            "UPDATE prefill_groups SET name = ?, type = ?, items = ?, description = ?, \
             updated_time = ? WHERE id = ?",
        )
        .bind(fields.name)
        .bind(fields.kind)
        .bind(fields.items)
        .bind(fields.description)
        .bind(now_secs())
        .bind(id)
        .execute(self.pool())
        .await;
        match updated {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(PrefillWrite::NameTaken);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(match self.prefill_group(id).await? {
            Some(row) => PrefillWrite::Done(row),
            None => PrefillWrite::NotFound,
        })
    }

    /// Deletes a group; false when it does not exist.
    pub async fn delete_prefill_group(&self, id: i64) -> Result<bool, DbError> {
        let result = sqlx::query("DELETE FROM prefill_groups WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }
}

fn check(fields: PrefillGroupFields<'_>) -> Result<(), DbError> {
    super::check_lengths(
        "prefill_groups",
        &[
            ("name", fields.name),
            ("type", fields.kind),
            ("items", fields.items),
            ("description", fields.description),
        ],
    )
}
