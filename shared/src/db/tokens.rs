//! The `tokens` table: API keys and their limits. A key itself is stored twice: its SHA-256
//! (`key_hash`, what the relay looks a presented key up by) and an encrypted copy
//! (`key_ciphertext`, see `crypto::seal`) from which the owner's console shows it again.

use super::{ChangeEvent, Db, DbError, Movement, MovementKind, MovementOutcome};
use crate::changes::Topic;
use sqlx::AssertSqlSafe;

/// The key may be used.
pub const TOKEN_STATUS_ENABLED: i64 = 1;
/// Switched off by its owner.
pub const TOKEN_STATUS_DISABLED: i64 = 2;
/// Past its `expired_time`.
pub const TOKEN_STATUS_EXPIRED: i64 = 3;
/// Its `remain_quota` ran out.
pub const TOKEN_STATUS_EXHAUSTED: i64 = 4;

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
    /// Requests per minute the key may make (0: no limit of its own).
    pub rpm_limit: i64,
    /// Tokens (prompt + completion) per minute the key may use (0: no limit of its own).
    pub tpm_limit: i64,
    /// `{"model": requests per minute}` JSON; empty: none.
    pub model_rpm_limit: String,
    /// `{"model": tokens per minute}` JSON; empty: none.
    pub model_tpm_limit: String,
    /// Comma-separated ids of the user channels the key is limited to, in the order they are
    /// tried; empty: no limit (seed 001).
    pub user_channel_ids: String,
}

/// The columns of [`TokenRow`], as a literal so that queries stay `&'static str`.
macro_rules! token_columns {
    () => {
        "id, user_id, name, key_hash, status, created_time, accessed_time, expired_time, \
         remain_quota, unlimited_quota, model_limits_enabled, model_limits, allow_ips, used_quota, \
         `group`, cross_group_retry, rpm_limit, tpm_limit, model_rpm_limit, model_tpm_limit, \
         user_channel_ids"
    };
}

impl Db {
    /// Every token (the proxy's key snapshot).
    pub async fn all_tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        let query = sqlx::query(concat!("SELECT ", token_columns!(), " FROM tokens"));
        self.fetch_decoded("tokens", query).await
    }

    /// One token by id (`None` too when its row does not decode: reported).
    pub async fn token_by_id(&self, id: i64) -> Result<Option<TokenRow>, DbError> {
        let query = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE id = ?"
        ))
        .bind(id);
        self.fetch_optional_decoded("tokens", query).await
    }
}

/// A token with the encrypted copy of its key: what the console's routes read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredToken {
    #[sqlx(flatten)]
    pub row: TokenRow,
    /// `crypto::seal` of the full `sk-` key.
    pub key_ciphertext: String,
}

/// The fields of a new token; it starts enabled.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub key_hash: &'a str,
    pub key_ciphertext: &'a str,
    pub expired_time: i64,
    pub remain_quota: i64,
    pub unlimited_quota: bool,
    pub model_limits_enabled: bool,
    pub model_limits: &'a str,
    pub allow_ips: &'a str,
    pub group: &'a str,
    pub cross_group_retry: bool,
    pub limits: KeyRateLimits,
    /// Comma-separated user channel ids, or empty.
    pub user_channel_ids: &'a str,
}

/// A key's own rate limits, as LiteLLM names them (0 or empty: none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRateLimits {
    /// Requests per minute.
    pub rpm_limit: i64,
    /// Tokens (prompt + completion) per minute.
    pub tpm_limit: i64,
    /// `{"model": requests per minute}` JSON, or empty.
    pub model_rpm_limit: String,
    /// `{"model": tokens per minute}` JSON, or empty.
    pub model_tpm_limit: String,
}

/// The owner-editable columns to change; `None` leaves a column as it is. A new `remain_quota`
/// is applied as a ledger movement of its difference to the stored value, so that an update
/// never writes back a stale copy of a value the relay changes meanwhile.
#[derive(Debug, Clone, Default)]
pub struct TokenChanges {
    pub name: Option<String>,
    pub status: Option<i64>,
    pub expired_time: Option<i64>,
    pub remain_quota: Option<i64>,
    pub unlimited_quota: Option<bool>,
    pub model_limits_enabled: Option<bool>,
    pub model_limits: Option<String>,
    pub allow_ips: Option<String>,
    pub group: Option<String>,
    pub cross_group_retry: Option<bool>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub model_rpm_limit: Option<String>,
    pub model_tpm_limit: Option<String>,
    pub user_channel_ids: Option<String>,
}

impl TokenChanges {
    /// The `column = ?` assignments of the columns to change and their values.
    fn assignments(&self) -> (Vec<&'static str>, Vec<Bound>) {
        let mut sets = Vec::new();
        let mut values = Vec::new();
        let flag = |v: bool| Bound::Int(i64::from(v));
        if let Some(v) = &self.name {
            sets.push("name = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = self.status {
            sets.push("status = ?");
            values.push(Bound::Int(v));
        }
        if let Some(v) = self.expired_time {
            sets.push("expired_time = ?");
            values.push(Bound::Int(v));
        }
        if let Some(v) = self.unlimited_quota {
            sets.push("unlimited_quota = ?");
            values.push(flag(v));
        }
        if let Some(v) = self.model_limits_enabled {
            sets.push("model_limits_enabled = ?");
            values.push(flag(v));
        }
        if let Some(v) = &self.model_limits {
            sets.push("model_limits = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = &self.allow_ips {
            sets.push("allow_ips = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = &self.group {
            sets.push("`group` = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = self.cross_group_retry {
            sets.push("cross_group_retry = ?");
            values.push(flag(v));
        }
        if let Some(v) = self.rpm_limit {
            sets.push("rpm_limit = ?");
            values.push(Bound::Int(v));
        }
        if let Some(v) = self.tpm_limit {
            sets.push("tpm_limit = ?");
            values.push(Bound::Int(v));
        }
        if let Some(v) = &self.model_rpm_limit {
            sets.push("model_rpm_limit = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = &self.model_tpm_limit {
            sets.push("model_tpm_limit = ?");
            values.push(Bound::Text(v.clone()));
        }
        if let Some(v) = &self.user_channel_ids {
            sets.push("user_channel_ids = ?");
            values.push(Bound::Text(v.clone()));
        }
        (sets, values)
    }
}

/// What became of creating a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCreation {
    /// Created, with the change event to announce after the commit.
    Created { id: i64, change: ChangeEvent },
    /// The user already has the most tokens allowed.
    LimitReached,
    /// No such live user.
    NoUser,
}

/// What became of updating a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenUpdate {
    /// Updated; `movement` is the ledger movement of a changed `remain_quota`. Announce
    /// `changes` after the commit.
    Updated {
        movement: Option<Movement>,
        changes: Vec<ChangeEvent>,
    },
    /// No such token of the user's.
    NotFound,
}

/// Which of a user's tokens a search returns; `None` does not filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenFilter<'a> {
    /// A `LIKE` pattern on the name, with `!` as its escape character.
    pub name_like: Option<&'a str>,
    /// The exact key, by its lookup hash.
    pub key_hash: Option<&'a str>,
}

/// A value bound into dynamically assembled SQL.
#[derive(Clone)]
enum Bound {
    Int(i64),
    Text(String),
}

impl TokenFilter<'_> {
    /// `" AND ..."` conditions after `user_id = ?`, and their values.
    fn conditions(&self) -> (String, Vec<Bound>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        if let Some(pattern) = self.name_like {
            sql.push_str(" AND name LIKE ? ESCAPE '!'");
            values.push(Bound::Text(pattern.to_string()));
        }
        if let Some(hash) = self.key_hash {
            sql.push_str(" AND key_hash = ?");
            values.push(Bound::Text(hash.to_string()));
        }
        (sql, values)
    }
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    values: Vec<Bound>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for value in values {
        query = match value {
            Bound::Int(v) => query.bind(v),
            Bound::Text(v) => query.bind(v),
        };
    }
    query
}

impl Db {
    /// Creates a token for a live user who has fewer than `max_tokens`, with its change event,
    /// in one transaction. The owner's row is locked first, so concurrent creations for one
    /// user are counted one after the other and never exceed the limit.
    pub async fn create_token(
        &self,
        token: &NewToken<'_>,
        max_tokens: i64,
    ) -> Result<TokenCreation, DbError> {
        super::check_lengths(
            "tokens",
            &[
                ("name", token.name),
                ("model_limits", token.model_limits),
                ("allow_ips", token.allow_ips),
                ("group", token.group),
            ],
        )?;
        let now = super::now_secs();
        let mut tx = self.pool().begin().await?;
        // A write first: on SQLite it takes the write lock, on MySQL the owner's row lock.
        let owner =
            sqlx::query("UPDATE users SET status = status WHERE id = ? AND deleted_at IS NULL")
                .bind(token.user_id)
                .execute(&mut *tx)
                .await?;
        if owner.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(TokenCreation::NoUser);
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE user_id = ?")
            .bind(token.user_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= max_tokens {
            tx.rollback().await?;
            return Ok(TokenCreation::LimitReached);
        }
        let result = sqlx::query(
            "INSERT INTO tokens (user_id, name, key_hash, key_ciphertext, status, created_time, \
             accessed_time, expired_time, remain_quota, unlimited_quota, model_limits_enabled, \
             model_limits, allow_ips, used_quota, `group`, cross_group_retry, rpm_limit, \
             tpm_limit, model_rpm_limit, model_tpm_limit, user_channel_ids) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token.user_id)
        .bind(token.name)
        .bind(token.key_hash)
        .bind(token.key_ciphertext)
        .bind(TOKEN_STATUS_ENABLED)
        .bind(now)
        .bind(now)
        .bind(token.expired_time)
        .bind(token.remain_quota)
        .bind(i64::from(token.unlimited_quota))
        .bind(i64::from(token.model_limits_enabled))
        .bind(token.model_limits)
        .bind(token.allow_ips)
        .bind(token.group)
        .bind(i64::from(token.cross_group_retry))
        .bind(token.limits.rpm_limit)
        .bind(token.limits.tpm_limit)
        .bind(&token.limits.model_rpm_limit)
        .bind(&token.limits.model_tpm_limit)
        .bind(token.user_channel_ids)
        .execute(&mut *tx)
        .await?;
        let id = super::inserted_id(&mut tx, self.dialect(), &result).await?;
        let change =
            super::changes::append_change_in(&mut tx, self.dialect(), Topic::Token, id).await?;
        tx.commit().await?;
        Ok(TokenCreation::Created { id, change })
    }

    /// How many tokens `user_id` has.
    pub async fn count_user_tokens(&self, user_id: i64) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE user_id = ?")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// One of `user_id`'s tokens; `None` when it does not exist or belongs to someone else.
    pub async fn user_token(&self, id: i64, user_id: i64) -> Result<Option<StoredToken>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            ", key_ciphertext FROM tokens WHERE id = ? AND user_id = ?"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Those of `ids` that are `user_id`'s tokens, with their sealed keys (others' ids and
    /// unknown ids are simply absent), in id order.
    pub async fn user_tokens_by_ids(
        &self,
        user_id: i64,
        ids: &[i64],
    ) -> Result<Vec<StoredToken>, DbError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            concat!(
                "SELECT ",
                token_columns!(),
                ", key_ciphertext FROM tokens WHERE user_id = ? AND id IN ({}) ORDER BY id"
            ),
            placeholders
        );
        let mut query = sqlx::query_as(AssertSqlSafe(sql)).bind(user_id);
        for id in ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(self.pool()).await?)
    }

    /// `user_id`'s tokens that pass `filter`, newest first: `limit` of them from `offset`
    /// (all of them when `limit` is `None`), and how many pass in all.
    pub async fn search_user_tokens(
        &self,
        user_id: i64,
        filter: TokenFilter<'_>,
        offset: i64,
        limit: Option<i64>,
    ) -> Result<(Vec<StoredToken>, i64), DbError> {
        let (conditions, mut values) = filter.conditions();
        let count_sql = format!("SELECT COUNT(*) FROM tokens WHERE user_id = ?{conditions}");
        let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql)).bind(user_id);
        for value in values.clone() {
            count = match value {
                Bound::Int(v) => count.bind(v),
                Bound::Text(v) => count.bind(v),
            };
        }
        let total: i64 = count.fetch_one(self.pool()).await?;

        let page = match limit {
            Some(_) => " LIMIT ? OFFSET ?",
            None => "",
        };
        let sql = format!(
            concat!(
                "SELECT ",
                token_columns!(),
                ", key_ciphertext FROM tokens WHERE user_id = ?{} ORDER BY id DESC{}"
            ),
            conditions, page
        );
        if let Some(limit) = limit {
            values.push(Bound::Int(limit));
            values.push(Bound::Int(offset));
        }
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)).bind(user_id), values)
            .try_map(|row| sqlx::FromRow::from_row(&row))
            .fetch_all(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// Applies `changes` to one of `user_id`'s tokens (nothing happens to anyone else's), with
    /// its change event, in one transaction. A new `remain_quota` is a ledger movement of the
    /// difference to the stored value (read under the row's lock), so that charges the relay
    /// settles meanwhile are neither lost nor counted twice in the balance mirror.
    pub async fn update_user_token(
        &self,
        id: i64,
        user_id: i64,
        changes: &TokenChanges,
    ) -> Result<TokenUpdate, DbError> {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        super::check_lengths(
            "tokens",
            &[
                ("name", &text(&changes.name)),
                ("model_limits", &text(&changes.model_limits)),
                ("allow_ips", &text(&changes.allow_ips)),
                ("group", &text(&changes.group)),
            ],
        )?;
        let (sets, mut values) = changes.assignments();
        let sets = if sets.is_empty() {
            // Still a write first, which locks the row (and, on SQLite, the database).
            "remain_quota = remain_quota".to_string()
        } else {
            sets.join(", ")
        };
        values.push(Bound::Int(id));
        values.push(Bound::Int(user_id));
        let sql = format!("UPDATE tokens SET {sets} WHERE id = ? AND user_id = ?");
        let mut tx = self.pool().begin().await?;
        let updated = bind_all(sqlx::query(AssertSqlSafe(sql)), values)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(TokenUpdate::NotFound);
        }
        let mut movement = None;
        let mut events = Vec::new();
        if let Some(remain_quota) = changes.remain_quota {
            let stored: i64 =
                sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ? AND user_id = ?")
                    .bind(id)
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if stored != remain_quota {
                let limit = Movement::new(
                    format!(
                        "token_limit:{id}:{}",
                        crate::crypto::random_alphanumeric(24)
                    ),
                    MovementKind::TokenLimit,
                    user_id,
                    0,
                )
                .with_token_delta(id, remain_quota - stored)
                .allowing_negative();
                match self.apply_movement_in(&mut tx, &limit).await? {
                    MovementOutcome::Applied { changes, .. } => events.extend(changes),
                    other => {
                        return Err(DbError::MovementNotApplied(format!(
                            "{}: {other:?}",
                            limit.idempotency_key
                        )));
                    }
                }
                movement = Some(limit);
            }
        }
        if events.is_empty() {
            events.push(
                super::changes::append_change_in(&mut tx, self.dialect(), Topic::Token, id).await?,
            );
        }
        tx.commit().await?;
        Ok(TokenUpdate::Updated {
            movement,
            changes: events,
        })
    }

    /// Deletes one of `user_id`'s tokens with its change event, in one transaction; `None` when
    /// there was no such token of theirs.
    pub async fn delete_user_token(
        &self,
        id: i64,
        user_id: i64,
    ) -> Result<Option<ChangeEvent>, DbError> {
        let deleted = self.delete_user_tokens(user_id, &[id]).await?;
        Ok(deleted.into_iter().next().map(|(_, change)| change))
    }

    /// Deletes those of `ids` that are `user_id`'s tokens, with a change event each, in one
    /// transaction, and returns the ids actually deleted with their events. One statement per
    /// id keeps the count exact on both databases even while another request deletes some of
    /// the same tokens.
    pub async fn delete_user_tokens(
        &self,
        user_id: i64,
        ids: &[i64],
    ) -> Result<Vec<(i64, ChangeEvent)>, DbError> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut tx = self.pool().begin().await?;
        let mut deleted = Vec::new();
        for id in unique {
            let result = sqlx::query("DELETE FROM tokens WHERE id = ? AND user_id = ?")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if result.rows_affected() > 0 {
                let change =
                    super::changes::append_change_in(&mut tx, self.dialect(), Topic::Token, id)
                        .await?;
                deleted.push((id, change));
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// The token whose key hashes to `key_hash` (see `keys::lookup_hash`).
    pub async fn token_by_key_hash(&self, key_hash: &str) -> Result<Option<TokenRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE key_hash = ?"
        ))
        .bind(key_hash)
        .fetch_optional(self.pool())
        .await?)
    }
}

impl Db {
    /// How many keys name `group` as theirs.
    pub async fn tokens_in_group(&self, group: &str) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE `group` = ?")
                .bind(group)
                .fetch_one(self.pool())
                .await?,
        )
    }
}
