//! The `user_channels` and `user_channel_members` tables: seed 001's user channels, the tier of
//! channels customers see, each with its multiplier, routing algorithm, allowed groups and its
//! members (upstream channels, each with a priority and a weight). Keys name the user channels
//! they are limited to in `tokens.user_channel_ids`; a user channel a key names is never
//! deleted (the delete is refused and says which keys), so no key silently loses its limit.

use sqlx::{AnyConnection, AssertSqlSafe};

use super::{Db, DbError, now_secs};

/// A user channel customers may use.
pub const USER_CHANNEL_ENABLED: i64 = 1;
/// A user channel an admin switched off: keys limited to it alone are refused.
pub const USER_CHANNEL_DISABLED: i64 = 2;

const COLUMNS: &str = "id, name, description, status, multiplier, algorithm, allowed_groups, created_time, \
     updated_time";

/// One user channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserChannelRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// 1 enabled, 2 disabled.
    pub status: i64,
    /// Exact decimal text, above 0.
    pub multiplier: String,
    /// `priority`, `round_robin` or `weighted_round_robin`.
    pub algorithm: String,
    /// Comma-separated groups whose users may use it; empty: every group.
    pub allowed_groups: String,
    pub created_time: i64,
    pub updated_time: i64,
}

/// One upstream channel of a user channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct UserChannelMember {
    pub user_channel_id: i64,
    pub channel_id: i64,
    pub priority: i64,
    pub weight: i64,
}

/// A member as an administrator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberFields {
    pub channel_id: i64,
    pub priority: i64,
    pub weight: i64,
}

/// What an administrator sets on a user channel (all of it: a partial update is merged with
/// the stored one by the caller).
#[derive(Debug, Clone, Copy)]
pub struct UserChannelFields<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub status: i64,
    pub multiplier: &'a str,
    pub algorithm: &'a str,
    pub allowed_groups: &'a str,
    pub members: &'a [MemberFields],
}

/// What became of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChannelWrite {
    Done(i64),
    NotFound,
    /// A member names no channel (nothing was written).
    UnknownChannel(i64),
}

/// What became of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChannelDelete {
    Deleted,
    NotFound,
    /// Keys are limited to it (their ids): nothing was deleted.
    InUse(Vec<i64>),
}

/// Deletes a deleted channel's memberships.
pub(crate) async fn forget_channel(
    conn: &mut AnyConnection,
    channel_id: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM user_channel_members WHERE channel_id = ?")
        .bind(channel_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Db {
    /// Every user channel, by id.
    pub async fn all_user_channels(&self) -> Result<Vec<UserChannelRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM user_channels ORDER BY id"
        )));
        self.fetch_decoded("user_channels", query).await
    }

    /// Every member of every user channel.
    pub async fn all_user_channel_members(&self) -> Result<Vec<UserChannelMember>, DbError> {
        Ok(sqlx::query_as(
            "SELECT user_channel_id, channel_id, priority, weight FROM user_channel_members \
             ORDER BY user_channel_id, priority DESC, channel_id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// One user channel by id.
    pub async fn user_channel_by_id(&self, id: i64) -> Result<Option<UserChannelRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM user_channels WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The members of one user channel, highest priority first.
    pub async fn user_channel_members(&self, id: i64) -> Result<Vec<UserChannelMember>, DbError> {
        Ok(sqlx::query_as(
            "SELECT user_channel_id, channel_id, priority, weight FROM user_channel_members \
             WHERE user_channel_id = ? ORDER BY priority DESC, channel_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Creates a user channel with its members, all or nothing.
    pub async fn create_user_channel(
        &self,
        fields: UserChannelFields<'_>,
    ) -> Result<UserChannelWrite, DbError> {
        check(fields)?;
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        let result = fields
            .bound(sqlx::query(
                "INSERT INTO user_channels (name, description, status, multiplier, algorithm, \
                 allowed_groups, updated_time, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let id = super::inserted_id(&mut tx, self.dialect(), &result).await?;
        if let Some(unknown) = write_members(&mut tx, id, fields.members).await? {
            tx.rollback().await?;
            return Ok(UserChannelWrite::UnknownChannel(unknown));
        }
        tx.commit().await?;
        Ok(UserChannelWrite::Done(id))
    }

    /// Replaces a user channel's fields and members, all or nothing.
    pub async fn update_user_channel(
        &self,
        id: i64,
        fields: UserChannelFields<'_>,
    ) -> Result<UserChannelWrite, DbError> {
        check(fields)?;
        let mut tx = self.pool().begin().await?;
        // The write comes first so that SQLite takes the write lock at once.
        fields
            .bound(sqlx::query(
                "UPDATE user_channels SET name = ?, description = ?, status = ?, \
                 multiplier = ?, algorithm = ?, allowed_groups = ?, updated_time = ? WHERE id = ?",
            ))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_channels WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if exists == 0 {
            tx.rollback().await?;
            return Ok(UserChannelWrite::NotFound);
        }
        sqlx::query("DELETE FROM user_channel_members WHERE user_channel_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(unknown) = write_members(&mut tx, id, fields.members).await? {
            tx.rollback().await?;
            return Ok(UserChannelWrite::UnknownChannel(unknown));
        }
        tx.commit().await?;
        Ok(UserChannelWrite::Done(id))
    }

    /// Deletes a user channel and its members, unless a key is limited to it.
    pub async fn delete_user_channel(&self, id: i64) -> Result<UserChannelDelete, DbError> {
        let mut tx = self.pool().begin().await?;
        // A write first: SQLite's write lock, MySQL's row lock, against a concurrent key edit
        // checking that the user channel exists.
        let locked = sqlx::query("UPDATE user_channels SET updated_time = ? WHERE id = ?")
            .bind(now_secs())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(UserChannelDelete::NotFound);
        }
        let keys = keys_limited_to(&mut tx, id).await?;
        if !keys.is_empty() {
            tx.rollback().await?;
            return Ok(UserChannelDelete::InUse(keys));
        }
        sqlx::query("DELETE FROM user_channel_members WHERE user_channel_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM user_channels WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserChannelDelete::Deleted)
    }
}

/// Inserts the members of user channel `id`; the id of a member channel that does not exist,
/// if any (the caller rolls back).
async fn write_members(
    conn: &mut AnyConnection,
    id: i64,
    members: &[MemberFields],
) -> Result<Option<i64>, DbError> {
    for member in members {
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channels WHERE id = ?")
            .bind(member.channel_id)
            .fetch_one(&mut *conn)
            .await?;
        if exists == 0 {
            return Ok(Some(member.channel_id));
        }
        sqlx::query(
            "INSERT INTO user_channel_members (user_channel_id, channel_id, priority, weight) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(member.channel_id)
        .bind(member.priority)
        .bind(member.weight)
        .execute(&mut *conn)
        .await?;
    }
    Ok(None)
}

/// The ids of the keys whose `user_channel_ids` name user channel `id`.
async fn keys_limited_to(conn: &mut AnyConnection, id: i64) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM tokens WHERE user_channel_ids = ? OR user_channel_ids LIKE ? \
         OR user_channel_ids LIKE ? OR user_channel_ids LIKE ? ORDER BY id",
    )
    .bind(id.to_string())
    .bind(format!("{id},%"))
    .bind(format!("%,{id}"))
    .bind(format!("%,{id},%"))
    .fetch_all(&mut *conn)
    .await?)
}

impl<'a> UserChannelFields<'a> {
    /// `query` with the fields bound in the order name, description, status, multiplier,
    /// algorithm, allowed groups, and the time of this write.
    fn bound(self, query: super::lenient::RawQuery<'a>) -> super::lenient::RawQuery<'a> {
        query
            .bind(self.name)
            .bind(self.description)
            .bind(self.status)
            .bind(self.multiplier)
            .bind(self.algorithm)
            .bind(self.allowed_groups)
            .bind(now_secs())
    }
}

fn check(fields: UserChannelFields<'_>) -> Result<(), DbError> {
    super::check_lengths(
        "user_channels",
        &[
            ("name", fields.name),
            ("description", fields.description),
            ("multiplier", fields.multiplier),
            ("algorithm", fields.algorithm),
            ("allowed_groups", fields.allowed_groups),
        ],
    )
}
