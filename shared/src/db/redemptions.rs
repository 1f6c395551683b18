//! The `redemptions` table: redemption codes (new-api's columns). A code is created enabled,
//! may be disabled or re-enabled by an administrator, and is used at most once: the UPDATE that
//! flips it from enabled to used is conditional on its status and expiry, so of any number of
//! concurrent redemptions exactly one changes the row, and only that one credits (see
//! `payments.rs`, which does both in one transaction).

use super::channels::{Arg, bind_args, like_escape};
use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

/// An enabled code.
pub const REDEMPTION_ENABLED: i64 = 1;
/// A code an administrator disabled.
pub const REDEMPTION_DISABLED: i64 = 2;
/// A code that was redeemed.
pub const REDEMPTION_USED: i64 = 3;

const COLUMNS: &str = "id, user_id, `key`, status, name, quota, created_time, redeemed_time, \
    used_user_id, expired_time";

/// One redemption code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RedemptionRow {
    pub id: i64,
    /// The administrator who created it.
    pub user_id: i64,
    pub key: String,
    pub status: i64,
    pub name: String,
    pub quota: i64,
    pub created_time: i64,
    pub redeemed_time: i64,
    pub used_user_id: i64,
    /// Unix time after which it cannot be redeemed; 0 never expires.
    pub expired_time: i64,
}

impl RedemptionRow {
    /// Whether its expiry has passed at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expired_time != 0 && self.expired_time < now
    }
}

/// A code to create.
#[derive(Debug, Clone)]
pub struct NewRedemption<'a> {
    pub creator_id: i64,
    pub key: &'a str,
    pub name: &'a str,
    pub quota: i64,
    pub expired_time: i64,
}

/// The filters of `GET /api/redemption/search`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedemptionSearch<'a> {
    /// The id (when numeric), a name prefix, or a whole key.
    pub keyword: &'a str,
    /// `"1"` enabled and unexpired, `"2"` disabled, `"3"` used, `"expired"`; empty: all.
    pub status: &'a str,
}

impl Db {
    /// Inserts `codes` in one transaction: all of them or none.
    pub async fn create_redemptions(&self, codes: &[NewRedemption<'_>]) -> Result<(), DbError> {
        for code in codes {
            super::check_lengths("redemptions", &[("key", code.key), ("name", code.name)])?;
        }
        let mut tx = self.pool().begin().await?;
        let now = now_secs();
        for code in codes {
            sqlx::query(
                "INSERT INTO redemptions (user_id, `key`, status, name, quota, created_time, \
                 expired_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(code.creator_id)
            .bind(code.key)
            .bind(REDEMPTION_ENABLED)
            .bind(code.name)
            .bind(code.quota)
            .bind(now)
            .bind(code.expired_time)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One code by id.
    pub async fn redemption_by_id(&self, id: i64) -> Result<Option<RedemptionRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM redemptions WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// One code by its key.
    pub async fn redemption_by_key(&self, key: &str) -> Result<Option<RedemptionRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM redemptions WHERE `key` = ?"
        )))
        .bind(key)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A page of codes matching `search`, newest first, and how many match in all.
    pub async fn redemptions_page(
        &self,
        search: RedemptionSearch<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RedemptionRow>, i64), DbError> {
        let (condition, args) = search_condition(search, now_secs());
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM redemptions WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let rows = bind_args!(sqlx::query_as(AssertSqlSafe(rows_sql)), &args)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let count_sql = format!("SELECT COUNT(*) FROM redemptions WHERE {condition}");
        let total = bind_args!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// Changes a code's name, quota and expiry; false when it does not exist.
    pub async fn update_redemption(
        &self,
        id: i64,
        name: &str,
        quota: i64,
        expired_time: i64,
    ) -> Result<bool, DbError> {
        super::check_lengths("redemptions", &[("name", name)])?;
        let result = sqlx::query(
            "UPDATE redemptions SET name = ?, quota = ?, expired_time = ? WHERE id = ?",
        )
        .bind(name)
        .bind(quota)
        .bind(expired_time)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() > 0 || self.redemption_by_id(id).await?.is_some())
    }

    /// Enables or disables an unused code; false when it does not exist or was used (a used
    /// code stays used).
    pub async fn set_redemption_status(&self, id: i64, status: i64) -> Result<bool, DbError> {
        let result = sqlx::query("UPDATE redemptions SET status = ? WHERE id = ? AND status <> ?")
            .bind(status)
            .bind(id)
            .bind(REDEMPTION_USED)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0
            || self
                .redemption_by_id(id)
                .await?
                .is_some_and(|r| r.status == status))
    }

    /// Deletes a code; false when it did not exist.
    pub async fn delete_redemption(&self, id: i64) -> Result<bool, DbError> {
        let result = sqlx::query("DELETE FROM redemptions WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes every used, disabled or expired code; returns how many.
    pub async fn delete_invalid_redemptions(&self) -> Result<u64, DbError> {
        let result = sqlx::query(
            "DELETE FROM redemptions WHERE status IN (?, ?) \
             OR (status = ? AND expired_time <> 0 AND expired_time < ?)",
        )
        .bind(REDEMPTION_USED)
        .bind(REDEMPTION_DISABLED)
        .bind(REDEMPTION_ENABLED)
        .bind(now_secs())
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected())
    }
}

/// The WHERE condition of a search and its arguments, as new-api's `SearchRedemptions`.
fn search_condition(search: RedemptionSearch<'_>, now: i64) -> (String, Vec<Arg>) {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    let keyword = search.keyword.trim();
    if !keyword.is_empty() {
        let mut any = vec!["name LIKE ? ESCAPE '!'".to_string()];
        args.push(Arg::Text(format!("{}%", like_escape(keyword))));
        if let Ok(id) = keyword.parse::<i64>() {
            any.push("id = ?".into());
            args.push(Arg::Int(id));
        }
        let normalized = keyword.replace('-', "");
        if normalized.len() == 32 && normalized.bytes().all(|b| b.is_ascii_hexdigit()) {
            any.push("`key` = ?".into());
            args.push(Arg::Text(normalized));
        }
        parts.push(format!("({})", any.join(" OR ")));
    }
    match search.status.trim() {
        "expired" => {
            parts.push("status = ? AND expired_time <> 0 AND expired_time < ?".into());
            args.extend([Arg::Int(REDEMPTION_ENABLED), Arg::Int(now)]);
        }
        "1" => {
            parts.push("status = ? AND (expired_time = 0 OR expired_time >= ?)".into());
            args.extend([Arg::Int(REDEMPTION_ENABLED), Arg::Int(now)]);
        }
        "2" => {
            parts.push("status = ?".into());
            args.push(Arg::Int(REDEMPTION_DISABLED));
        }
        "3" => {
            parts.push("status = ?".into());
            args.push(Arg::Int(REDEMPTION_USED));
        }
        _ => {}
    }
    if parts.is_empty() {
        ("1 = 1".into(), args)
    } else {
        (parts.join(" AND "), args)
    }
}
