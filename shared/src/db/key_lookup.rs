//! What the proxy's key cache reads: one presented key with its owner (one indexed query on
//! `tokens.key_hash`, the owner joined), and the rows of the keys and users it holds, re-read in
//! batches when change events were lost.

use super::{Db, DbError, TokenRow, UserBrief};
use sqlx::AssertSqlSafe;

/// Ids per statement when re-reading cached rows (well under every driver's parameter limit).
const IDS_PER_QUERY: usize = 500;

/// The columns of a token and of its live owner (absent when the owner is deleted or missing).
const KEY_WITH_OWNER: &str = "SELECT t.id AS id, t.user_id AS user_id, t.name AS name, \
     t.key_hash AS key_hash, t.status AS status, t.created_time AS created_time, \
     t.accessed_time AS accessed_time, t.expired_time AS expired_time, \
     t.remain_quota AS remain_quota, t.unlimited_quota AS unlimited_quota, \
     t.model_limits_enabled AS model_limits_enabled, t.model_limits AS model_limits, \
     t.allow_ips AS allow_ips, t.used_quota AS used_quota, t.`group` AS `group`, \
     t.cross_group_retry AS cross_group_retry, t.rpm_limit AS rpm_limit, \
     t.tpm_limit AS tpm_limit, t.model_rpm_limit AS model_rpm_limit, \
     t.model_tpm_limit AS model_tpm_limit, t.user_channel_ids AS user_channel_ids, \
     u.id AS owner_id, u.username AS owner_username, \
     u.role AS owner_role, u.status AS owner_status, u.`group` AS owner_group, \
     u.quota AS owner_quota, u.setting AS owner_setting \
     FROM tokens t LEFT JOIN users u ON u.id = t.user_id AND u.deleted_at IS NULL \
     WHERE t.key_hash = ?";

/// Token columns, for the batched re-read.
const TOKEN_COLUMNS: &str = "id, user_id, name, key_hash, status, created_time, accessed_time, \
     expired_time, remain_quota, unlimited_quota, model_limits_enabled, model_limits, allow_ips, \
     used_quota, `group`, cross_group_retry, rpm_limit, tpm_limit, model_rpm_limit, \
     model_tpm_limit, user_channel_ids";

/// A key found by its hash, with its owner when the owner is a live user.
#[derive(Debug, Clone)]
pub struct KeyWithOwner {
    pub token: TokenRow,
    pub owner: Option<UserBrief>,
}

#[derive(sqlx::FromRow)]
struct KeyWithOwnerRow {
    #[sqlx(flatten)]
    token: TokenRow,
    owner_id: Option<i64>,
    owner_username: Option<String>,
    owner_role: Option<i64>,
    owner_status: Option<i64>,
    owner_group: Option<String>,
    owner_quota: Option<i64>,
    owner_setting: Option<String>,
}

impl From<KeyWithOwnerRow> for KeyWithOwner {
    fn from(row: KeyWithOwnerRow) -> Self {
        let owner = row.owner_id.map(|id| UserBrief {
            id,
            username: row.owner_username.unwrap_or_default(),
            role: row.owner_role.unwrap_or_default(),
            status: row.owner_status.unwrap_or_default(),
            group: row.owner_group.unwrap_or_default(),
            quota: row.owner_quota.unwrap_or_default(),
            setting: row.owner_setting.unwrap_or_default(),
            subscriptions: Vec::new(),
        });
        Self {
            token: row.token,
            owner,
        }
    }
}

impl Db {
    /// The key whose `key_hash` is `hash`, and its owner, in one indexed query.
    pub async fn key_with_owner(&self, hash: &str) -> Result<Option<KeyWithOwner>, DbError> {
        let query = sqlx::query(KEY_WITH_OWNER).bind(hash);
        let row: Option<KeyWithOwnerRow> = self.fetch_optional_decoded("tokens", query).await?;
        let mut found = row.map(KeyWithOwner::from);
        if let Some(owner) = found.as_mut().and_then(|f| f.owner.as_mut()) {
            self.attach_subscriptions(std::slice::from_mut(owner))
                .await?;
        }
        Ok(found)
    }

    /// The tokens among `ids` that still exist.
    pub async fn tokens_by_ids(&self, ids: &[i64]) -> Result<Vec<TokenRow>, DbError> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            rows.extend(self.fetch_decoded("tokens", query).await?);
        }
        Ok(rows)
    }

    /// The live users among `ids`, briefly.
    pub async fn user_briefs_by_ids(&self, ids: &[i64]) -> Result<Vec<UserBrief>, DbError> {
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT id, username, role, status, `group`, quota, setting FROM users \
                 WHERE deleted_at IS NULL AND id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            rows.extend(self.fetch_decoded("users", query).await?);
        }
        self.attach_subscriptions(&mut rows).await?;
        Ok(rows)
    }
}

fn placeholders(count: usize) -> String {
    let mut list = "?,".repeat(count);
    list.pop();
    list
}
