//! The `channel_models` table: one row per model of a channel (seed 001's channel-models), so
//! that a model of a channel has an id and its own group multipliers. The rows follow the
//! channel's comma-separated `models`: every write to a channel syncs them in its transaction
//! (see `super::abilities`), a model dropped from the list loses its row (and multipliers).

use sqlx::{AnyConnection, AssertSqlSafe};

use super::{Db, DbError, Dialect, now_secs};

/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 100;

/// One model of one channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelModelRow {
    pub id: i64,
    pub channel_id: i64,
    pub model: String,
    /// `{"group": "multiplier"}` JSON (exact decimal text); empty: none.
    pub group_multipliers: String,
}

const COLUMNS: &str = "id, channel_id, model, group_multipliers";

/// Makes the channel's rows those of `models`: rows of models no longer listed go, listed
/// models without a row get one (existing rows keep their id and multipliers).
pub(crate) async fn sync(
    conn: &mut AnyConnection,
    dialect: Dialect,
    channel_id: i64,
    models: &[&str],
) -> Result<(), DbError> {
    let existing: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, model FROM channel_models WHERE channel_id = ?")
            .bind(channel_id)
            .fetch_all(&mut *conn)
            .await?;
    for (id, model) in &existing {
        if !models.contains(&model.as_str()) {
            sqlx::query("DELETE FROM channel_models WHERE id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    let missing: Vec<&str> = models
        .iter()
        .copied()
        .filter(|model| !existing.iter().any(|(_, m)| m == model))
        .collect();
    let now = now_secs();
    for chunk in missing.chunks(ROWS_PER_INSERT) {
        let placeholders = vec!["(?, ?, '', ?)"; chunk.len()].join(", ");
        let sql = format!(
            "{} INTO channel_models (channel_id, model, group_multipliers, created_time) \
             VALUES {placeholders}",
            dialect.insert_ignore()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for model in chunk {
            query = query.bind(channel_id).bind(*model).bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes every row of a deleted channel.
pub(crate) async fn forget_channel(
    conn: &mut AnyConnection,
    channel_id: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM channel_models WHERE channel_id = ?")
        .bind(channel_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Db {
    /// The rows of a channel's `models`, in the list's order, creating those missing (a channel
    /// written before the table existed has none until now). Empty when there is no such
    /// channel.
    pub async fn channel_models_of(
        &self,
        channel_id: i64,
    ) -> Result<Vec<ChannelModelRow>, DbError> {
        let Some(channel) = self.channel_by_id(channel_id).await? else {
            return Ok(Vec::new());
        };
        let models = super::split_list(&channel.models);
        let mut rows = self.channel_model_rows(channel_id).await?;
        if models.iter().any(|m| !rows.iter().any(|r| r.model == *m)) {
            let mut tx = self.pool().begin().await?;
            // Only models still listed: the list is read again inside the transaction.
            let listed: Option<String> =
                sqlx::query_scalar("SELECT models FROM channels WHERE id = ?")
                    .bind(channel_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let listed = listed.unwrap_or_default();
            sync(
                &mut tx,
                self.dialect(),
                channel_id,
                &super::split_list(&listed),
            )
            .await?;
            tx.commit().await?;
            rows = self.channel_model_rows(channel_id).await?;
        }
        rows.sort_by_key(|row| models.iter().position(|m| *m == row.model));
        Ok(rows)
    }

    async fn channel_model_rows(&self, channel_id: i64) -> Result<Vec<ChannelModelRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM channel_models WHERE channel_id = ? ORDER BY id"
        )))
        .bind(channel_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// One channel-model by id.
    pub async fn channel_model_by_id(&self, id: i64) -> Result<Option<ChannelModelRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM channel_models WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every channel-model that has group multipliers (the proxy's routing snapshot).
    pub async fn channel_model_multipliers(&self) -> Result<Vec<ChannelModelRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM channel_models WHERE group_multipliers <> ''"
        )));
        self.fetch_decoded("channel_models", query).await
    }

    /// Sets a channel-model's group multipliers (JSON, or empty); `false` when it is gone.
    pub async fn set_channel_model_multipliers(
        &self,
        id: i64,
        multipliers: &str,
    ) -> Result<bool, DbError> {
        self.set_text_column("channel_models", "group_multipliers", id, multipliers)
            .await
    }
}
