//! The `passkeys` table: WebAuthn credentials. The credential itself is webauthn-rs's
//! serialized `Passkey` (JSON text, opaque here); a credential id is registered once across all
//! users (unique `credential_hash`).

use super::{Db, DbError, now_secs};
use sqlx::AssertSqlSafe;

/// A stored passkey.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, serialized as JSON.
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: i64,
}

/// What is needed to store a newly registered passkey.
#[derive(Debug, Clone)]
pub struct NewPasskey<'a> {
    pub user_id: i64,
    /// SHA-256 (hex) of the raw credential id.
    pub credential_hash: &'a str,
    /// The credential id, base64url without padding.
    pub credential_id: &'a str,
    pub name: &'a str,
    /// webauthn-rs's `Passkey`, serialized as JSON.
    pub passkey: &'a str,
}

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, name, passkey, created_at, last_used_at"
    };
}

impl Db {
    /// Stores a passkey and returns its id; `None`, storing nothing, when the credential is
    /// already registered (to this or any other user).
    pub async fn insert_passkey(&self, passkey: &NewPasskey<'_>) -> Result<Option<i64>, DbError> {
        let mut conn = self.pool().acquire().await?;
        let sql = format!(
            "{} INTO passkeys (user_id, credential_hash, credential_id, name, passkey, \
             created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, 0)",
            self.dialect().insert_ignore()
        );
        let result = sqlx::query(AssertSqlSafe(sql))
            .bind(passkey.user_id)
            .bind(passkey.credential_hash)
            .bind(passkey.credential_id)
            .bind(passkey.name)
            .bind(passkey.passkey)
            .bind(now_secs())
            .execute(&mut *conn)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        super::inserted_id(&mut conn, self.dialect(), &result)
            .await
            .map(Some)
    }

    /// The user's passkeys, newest first.
    pub async fn user_passkeys(&self, user_id: i64) -> Result<Vec<PasskeyRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE user_id = ? ORDER BY id DESC"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// The passkey whose raw credential id hashes (SHA-256, hex) to `credential_hash`.
    pub async fn passkey_by_credential_hash(
        &self,
        credential_hash: &str,
    ) -> Result<Option<PasskeyRow>, DbError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_hash = ?"
        ))
        .bind(credential_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a successful use: the updated credential (signature counter) and the time.
    pub async fn record_passkey_use(&self, id: i64, passkey: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE passkeys SET passkey = ?, last_used_at = ? WHERE id = ?")
            .bind(passkey)
            .bind(now_secs())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes the user's passkey `id`. False when the user has no such passkey.
    pub async fn delete_passkey(&self, user_id: i64, id: i64) -> Result<bool, DbError> {
        let result = sqlx::query("DELETE FROM passkeys WHERE id = ? AND user_id = ?")
            .bind(id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes every passkey of the user; returns how many there were.
    pub async fn delete_user_passkeys(&self, user_id: i64) -> Result<u64, DbError> {
        let result = sqlx::query("DELETE FROM passkeys WHERE user_id = ?")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}
