//! The `channel_keys` table: the state of each upstream key of a channel (new-api's multi-key
//! channels): enabled, disabled by an administrator or disabled automatically, with the reason
//! and time, and the key's last known balance. A key is named by its fingerprint
//! ([`crate::upstream_keys::fingerprint`]); a key without a row is enabled. The writes that
//! change which keys a channel routes through also change the channel's status when they must
//! (its last enabled key refused: disabled automatically; a key enabled on a channel that was
//! disabled automatically: enabled again), with its abilities, in one transaction.

use super::channels::{CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED};
use super::{Db, DbError, now_secs};
use crate::upstream_keys::{KEY_AUTO_DISABLED, KEY_ENABLED, fingerprint, split};
use sqlx::AssertSqlSafe;

/// The channel reason new-api records when its last key was disabled.
pub const ALL_KEYS_DISABLED: &str = "All keys are disabled";
/// The most of a refusal's text kept as a key's disabled reason.
const MAX_REASON_CHARS: usize = 1000;

/// The stored state of one key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyStateRow {
    pub channel_id: i64,
    /// The key's fingerprint.
    pub key_hash: String,
    /// 1 enabled, 2 disabled by an administrator, 3 disabled automatically.
    pub status: i64,
    pub disabled_reason: String,
    pub disabled_time: i64,
    /// Millionths of a US dollar.
    pub balance_micros: i64,
    /// When the balance was read (0: never).
    pub balance_updated_time: i64,
}

/// What disabling a key automatically did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDisabled {
    /// The key was disabled; the channel has other enabled keys.
    Key,
    /// It was the channel's last enabled key: the channel was disabled automatically too.
    Channel,
    /// Nothing: the key is gone from the channel, already disabled, or the channel is not
    /// enabled.
    Nothing,
}

/// A key's new state, as an administrator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySwitch {
    Enable,
    /// Disabled by hand (status 2).
    Disable,
}

macro_rules! key_columns {
    () => {
        "channel_id, key_hash, status, disabled_reason, disabled_time, balance_micros, \
         balance_updated_time"
    };
}

impl Db {
    /// The stored state of every key of a channel.
    pub async fn channel_key_states(&self, channel_id: i64) -> Result<Vec<KeyStateRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM channel_keys WHERE channel_id = ?"
        ))
        .bind(channel_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The stored state of the keys of the channels `ids` (a page of channels, an export batch).
    pub async fn channel_key_states_of(&self, ids: &[i64]) -> Result<Vec<KeyStateRow>, DbError> {
        let mut states = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM channel_keys WHERE channel_id IN ({})"
                ),
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(*id);
            }
            states.extend(query.fetch_all(self.pool()).await?);
        }
        Ok(states)
    }

    /// Every key that is not enabled, as (channel id, fingerprint): what the proxy's routing
    /// snapshot skips.
    pub async fn disabled_channel_keys(&self) -> Result<Vec<(i64, String)>, DbError> {
        Ok(
            sqlx::query_as("SELECT channel_id, key_hash FROM channel_keys WHERE status <> ?")
                .bind(KEY_ENABLED)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Disables `key` of an enabled channel because its upstream refused it, with the reason;
    /// when no enabled key is left, the channel is disabled automatically too (new-api: "All
    /// keys are disabled"). One transaction.
    pub async fn auto_disable_channel_key(
        &self,
        channel_id: i64,
        key: &str,
        reason: &str,
    ) -> Result<KeyDisabled, DbError> {
        let hash = fingerprint(key);
        let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
        let mut tx = self.pool().begin().await?;
        // Locks the channel's row first (SQLite: the write lock), so that concurrent refusals
        // of its keys are decided one after another and the last one sees every other.
        sqlx::query("UPDATE channels SET status = status WHERE id = ?")
            .bind(channel_id)
            .execute(&mut *tx)
            .await?;
        ensure_row(&mut tx, self.dialect(), channel_id, &hash).await?;
        let channel: Option<(i64, String, i64)> =
            sqlx::query_as("SELECT type, `keys`, status FROM channels WHERE id = ?")
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((kind, keys, status)) = channel else {
            tx.rollback().await?;
            return Ok(KeyDisabled::Nothing);
        };
        let hashes: Vec<String> = split(kind, &keys).into_iter().map(fingerprint).collect();
        if status != CHANNEL_ENABLED || !hashes.contains(&hash) {
            tx.rollback().await?;
            return Ok(KeyDisabled::Nothing);
        }
        let changed = sqlx::query(
            "UPDATE channel_keys SET status = ?, disabled_reason = ?, disabled_time = ? \
             WHERE channel_id = ? AND key_hash = ? AND status = ?",
        )
        .bind(KEY_AUTO_DISABLED)
        .bind(&reason)
        .bind(now_secs())
        .bind(channel_id)
        .bind(&hash)
        .bind(KEY_ENABLED)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            tx.rollback().await?;
            return Ok(KeyDisabled::Nothing);
        }
        let disabled = disabled_hashes(&mut tx, channel_id).await?;
        let outcome = if hashes.iter().all(|h| disabled.contains(h)) {
            sqlx::query("UPDATE channels SET status = ?, status_reason = ? WHERE id = ?")
                .bind(CHANNEL_AUTO_DISABLED)
                .bind(ALL_KEYS_DISABLED)
                .bind(channel_id)
                .execute(&mut *tx)
                .await?;
            super::abilities::set_abilities_enabled(&mut tx, channel_id, false).await?;
            KeyDisabled::Channel
        } else {
            KeyDisabled::Key
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Switches the keys with fingerprints `hashes` of a channel on or off by hand. Enabling a
    /// key of a channel that was disabled automatically enables the channel again (its keys
    /// are usable once more); returns whether it did.
    pub async fn switch_channel_keys(
        &self,
        channel_id: i64,
        hashes: &[String],
        switch: KeySwitch,
    ) -> Result<bool, DbError> {
        let (status, reason, time) = match switch {
            KeySwitch::Enable => (KEY_ENABLED, "", 0),
            KeySwitch::Disable => (
                crate::upstream_keys::KEY_MANUALLY_DISABLED,
                "manually disabled",
                now_secs(),
            ),
        };
        let mut tx = self.pool().begin().await?;
        for hash in hashes {
            ensure_row(&mut tx, self.dialect(), channel_id, hash).await?;
            sqlx::query(
                "UPDATE channel_keys SET status = ?, disabled_reason = ?, disabled_time = ? \
                 WHERE channel_id = ? AND key_hash = ?",
            )
            .bind(status)
            .bind(reason)
            .bind(time)
            .bind(channel_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        }
        let mut reenabled = false;
        if switch == KeySwitch::Enable && !hashes.is_empty() {
            reenabled = sqlx::query(
                "UPDATE channels SET status = ?, status_reason = '' WHERE id = ? AND status = ?",
            )
            .bind(CHANNEL_ENABLED)
            .bind(channel_id)
            .bind(CHANNEL_AUTO_DISABLED)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if reenabled {
                super::abilities::set_abilities_enabled(&mut tx, channel_id, true).await?;
            }
        }
        tx.commit().await?;
        Ok(reenabled)
    }

    /// Replaces a channel's keys with `remaining` if they still are `old` (a compare-and-set
    /// against a concurrent edit) and forgets the state of the keys no longer in it, in one
    /// transaction. False when the channel is gone or its keys changed meanwhile.
    pub async fn remove_channel_keys(
        &self,
        channel_id: i64,
        old: &str,
        remaining: &str,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query("UPDATE channels SET `keys` = ? WHERE id = ? AND `keys` = ?")
            .bind(remaining)
            .bind(channel_id)
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let now: Option<(i64, String)> =
            sqlx::query_as("SELECT type, `keys` FROM channels WHERE id = ?")
                .bind(channel_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((kind, keys)) = now.filter(|(_, keys)| changed > 0 || keys == remaining) else {
            tx.rollback().await?;
            return Ok(false);
        };
        forget_other_keys(&mut tx, channel_id, kind, &keys).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records the balance (millionths of a US dollar) of the key with fingerprint `hash`.
    pub async fn set_channel_key_balance(
        &self,
        channel_id: i64,
        hash: &str,
        micros: i64,
    ) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        ensure_row(&mut tx, self.dialect(), channel_id, hash).await?;
        sqlx::query(
            "UPDATE channel_keys SET balance_micros = ?, balance_updated_time = ? \
             WHERE channel_id = ? AND key_hash = ?",
        )
        .bind(micros)
        .bind(now_secs())
        .bind(channel_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Creates the key's row (enabled, balance unknown) if it has none. As the first statement of a
/// transaction, it takes SQLite's write lock at once.
async fn ensure_row(
    conn: &mut sqlx::AnyConnection,
    dialect: super::Dialect,
    channel_id: i64,
    hash: &str,
) -> Result<(), DbError> {
    let sql = format!(
        "{} INTO channel_keys (channel_id, key_hash) VALUES (?, ?)",
        dialect.insert_ignore()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(channel_id)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The fingerprints of the channel's keys that are not enabled.
async fn disabled_hashes(
    conn: &mut sqlx::AnyConnection,
    channel_id: i64,
) -> Result<Vec<String>, DbError> {
    Ok(
        sqlx::query_scalar(
            "SELECT key_hash FROM channel_keys WHERE channel_id = ? AND status <> ?",
        )
        .bind(channel_id)
        .bind(KEY_ENABLED)
        .fetch_all(&mut *conn)
        .await?,
    )
}

/// Deletes the state of every key that is not one of `keys` (a channel of type `kind`), so that
/// a key removed and added again later starts enabled.
pub(super) async fn forget_other_keys(
    conn: &mut sqlx::AnyConnection,
    channel_id: i64,
    kind: i64,
    keys: &str,
) -> Result<(), DbError> {
    let kept: Vec<String> = split(kind, keys).into_iter().map(fingerprint).collect();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT key_hash FROM channel_keys WHERE channel_id = ?")
            .bind(channel_id)
            .fetch_all(&mut *conn)
            .await?;
    for hash in stored.iter().filter(|h| !kept.contains(h)) {
        sqlx::query("DELETE FROM channel_keys WHERE channel_id = ? AND key_hash = ?")
            .bind(channel_id)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes the state of every key of a channel (the channel is deleted).
pub(super) async fn forget_all_keys(
    conn: &mut sqlx::AnyConnection,
    channel_id: i64,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM channel_keys WHERE channel_id = ?")
        .bind(channel_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
