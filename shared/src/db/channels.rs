//! The `channels` table: upstream providers, with their keys, models, groups and routing
//! weights. The `abilities` table is derived from it (group x model x channel).

use super::{Db, DbError};

/// Every column of a channel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    /// Provider type (new-api numbering; 1 = OpenAI-compatible).
    pub r#type: i64,
    pub name: String,
    /// One upstream key per line.
    pub keys: String,
    /// `random` or `round_robin`.
    pub key_mode: String,
    /// 1 enabled, 2 disabled by an admin, 3 disabled automatically.
    pub status: i64,
    pub status_reason: String,
    pub base_url: String,
    /// Comma-separated model names.
    pub models: String,
    /// Comma-separated groups.
    pub group: String,
    /// JSON object: requested model -> upstream model.
    pub model_mapping: String,
    /// JSON object: header -> value, sent upstream.
    pub header_override: String,
    pub priority: i64,
    pub weight: i64,
    pub test_model: String,
    pub openai_organization: String,
    /// 1: failures may disable the channel automatically.
    pub auto_ban: i64,
    pub tag: String,
    pub other: String,
    pub setting: String,
    pub remark: String,
    pub balance: f64,
    pub balance_updated_time: i64,
    pub response_time: i64,
    pub test_time: i64,
    pub used_quota: i64,
    pub created_time: i64,
}

/// The columns of [`ChannelRow`], as a literal so that queries stay `&'static str`.
macro_rules! channel_columns {
    () => {
        "id, type, name, `keys`, key_mode, status, status_reason, base_url, models, `group`, \
         model_mapping, header_override, priority, weight, test_model, openai_organization, \
         auto_ban, tag, other, setting, remark, balance, balance_updated_time, response_time, \
         test_time, used_quota, created_time"
    };
}

impl Db {
    /// Every channel (the proxy's routing snapshot).
    pub async fn all_channels(&self) -> Result<Vec<ChannelRow>, DbError> {
        Ok(
            sqlx::query_as(concat!("SELECT ", channel_columns!(), " FROM channels"))
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// One channel by id.
    pub async fn channel_by_id(&self, id: i64) -> Result<Option<ChannelRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            channel_columns!(),
            " FROM channels WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }
}
