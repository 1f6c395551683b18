//! The `abilities` table: one row per (group, model, channel), derived from the channel's
//! `group` and `models` lists, with its priority, weight, tag and whether it is enabled. It is
//! rewritten in the same transaction as every write to the channel it derives from, so that it
//! never disagrees with `channels`. The same writes keep the channel's `channel_models` rows
//! (one per model, with an id) in step, and a deleted channel leaves no user channel member.

use sqlx::{AnyConnection, AssertSqlSafe};

use super::{Db, DbError, Dialect};

/// Rows per multi-row INSERT: 7 parameters each stays far below SQLite's parameter limit.
const ROWS_PER_INSERT: usize = 100;

/// What the abilities of one channel are built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AbilitySource<'a> {
    pub channel_id: i64,
    /// Comma-separated groups.
    pub group: &'a str,
    /// Comma-separated models.
    pub models: &'a str,
    pub status: i64,
    pub priority: i64,
    pub weight: i64,
    pub tag: &'a str,
}

/// The non-empty, trimmed, de-duplicated items of a comma-separated list, in order.
pub fn split_list(list: &str) -> Vec<&str> {
    let mut items: Vec<&str> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    items
}

/// Replaces the channel's abilities with those its current fields give.
pub(crate) async fn replace_abilities(
    conn: &mut AnyConnection,
    dialect: Dialect,
    source: &AbilitySource<'_>,
) -> Result<(), DbError> {
    delete_abilities(conn, source.channel_id).await?;
    let groups = split_list(source.group);
    let models = split_list(source.models);
    let pairs: Vec<(&str, &str)> = groups
        .iter()
        .flat_map(|g| models.iter().map(move |m| (*g, *m)))
        .collect();
    let enabled = i64::from(source.status == super::channels::CHANNEL_ENABLED);
    for chunk in pairs.chunks(ROWS_PER_INSERT) {
        let placeholders = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        // The pairs are distinct already; ignoring duplicates only guards the primary key.
        let sql = format!(
            "{} INTO abilities (`group`, model, channel_id, enabled, priority, weight, tag) \
             VALUES {placeholders}",
            dialect.insert_ignore()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (group, model) in chunk {
            query = query
                .bind(*group)
                .bind(*model)
                .bind(source.channel_id)
                .bind(enabled)
                .bind(source.priority)
                .bind(source.weight)
                .bind(source.tag);
        }
        query.execute(&mut *conn).await?;
    }
    super::channel_models::sync(conn, dialect, source.channel_id, &models).await?;
    Ok(())
}

/// Deletes every ability of a channel.
pub(crate) async fn delete_abilities(
    conn: &mut AnyConnection,
    channel_id: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM abilities WHERE channel_id = ?")
        .bind(channel_id)
        .execute(&mut *conn)
        .await?;
    super::channel_models::forget_channel(conn, channel_id).await?;
    super::user_channels::forget_channel(conn, channel_id).await?;
    Ok(())
}

/// Marks every ability of a channel enabled or not (a status change alone).
pub(crate) async fn set_abilities_enabled(
    conn: &mut AnyConnection,
    channel_id: i64,
    enabled: bool,
) -> Result<(), DbError> {
    sqlx::query("UPDATE abilities SET enabled = ? WHERE channel_id = ?")
        .bind(i64::from(enabled))
        .bind(channel_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Db {
    /// The distinct models some enabled channel serves (new-api's `GetEnabledModels`), sorted.
    pub async fn enabled_ability_models(&self) -> Result<Vec<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT model FROM abilities WHERE enabled = 1 ORDER BY model",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The distinct models some enabled channel serves to any of `groups` (new-api's
    /// `GetGroupsEnabledModels`), sorted.
    pub async fn enabled_models_of_groups(
        &self,
        groups: &[String],
    ) -> Result<Vec<String>, DbError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; groups.len()].join(", ");
        let sql = format!(
            "SELECT DISTINCT model FROM abilities WHERE enabled = 1 AND `group` IN ({placeholders}) \
             ORDER BY model"
        );
        let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
        for group in groups {
            query = query.bind(group.as_str());
        }
        Ok(query.fetch_all(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn lists_are_trimmed_and_deduplicated() {
        assert_eq!(split_list(" a, b,,a ,c "), vec!["a", "b", "c"]);
        assert!(split_list(" , ").is_empty());
    }
}
