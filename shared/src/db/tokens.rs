//! The `tokens` table: API keys and their limits.

use super::{Db, DbError};

/// Every column of a token except its ciphertext.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub key_hash: String,
    pub status: i64,
    pub created_time: i64,
    pub accessed_time: i64,
    /// Unix seconds; -1 never expires.
    pub expired_time: i64,
    pub remain_quota: i64,
    /// 0 or 1.
    pub unlimited_quota: i64,
    /// 0 or 1.
    pub model_limits_enabled: i64,
    /// Comma-separated model names.
    pub model_limits: String,
    /// Newline- or comma-separated IPs and CIDRs; empty allows all.
    pub allow_ips: String,
    pub used_quota: i64,
    /// Empty: the owner's group.
    pub group: String,
    /// 0 or 1.
    pub cross_group_retry: i64,
}

/// The columns of [`TokenRow`], as a literal so that queries stay `&'static str`.
macro_rules! token_columns {
    () => {
        "id, user_id, name, key_hash, status, created_time, accessed_time, expired_time, \
         remain_quota, unlimited_quota, model_limits_enabled, model_limits, allow_ips, used_quota, \
         `group`, cross_group_retry"
    };
}

impl Db {
    /// Every token (the proxy's key snapshot).
    pub async fn all_tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        Ok(
            sqlx::query_as(concat!("SELECT ", token_columns!(), " FROM tokens"))
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// One token by id.
    pub async fn token_by_id(&self, id: i64) -> Result<Option<TokenRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }
}
