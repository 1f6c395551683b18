//! The `invitation_codes` table: new-api's single-use invitation codes, which administrators
//! create in batches and which registration uses up when the operator requires one. Only a
//! code's SHA-256 is stored (of its normalized form: trimmed, upper-cased), with its first
//! characters to recognise it by; the codes themselves are shown once, when created.
//!
//! A code is used up in the transaction that creates its user ([`consume_invitation_code`]),
//! by a conditional update, so that of two concurrent registrations with one code exactly one
//! succeeds, and a failed registration leaves the code unused.

use super::channels::{Arg, bind_args, like_escape};
use super::{Db, DbError, now_secs};
use crate::crypto::sha256_hex;
use sqlx::{AnyConnection, AssertSqlSafe};

/// A code that can be used.
pub const INVITATION_ENABLED: i64 = 1;
/// A code an administrator switched off.
pub const INVITATION_DISABLED: i64 = 2;
/// A code some registration used up.
pub const INVITATION_USED: i64 = 3;
/// How many characters of a code are kept to recognise it by.
pub const INVITATION_PREFIX_CHARS: usize = 8;
/// The longest code a registration may present (new-api's `InvitationCodeMaxLength`).
pub const INVITATION_CODE_MAX_CHARS: usize = 128;

const COLUMNS: &str = "c.id, c.name, c.code_prefix, c.status, c.created_by, c.used_user_id, \
     COALESCE(u.username, '') AS used_username, c.created_time, c.used_time, c.expired_time";
const FROM: &str = "invitation_codes c LEFT JOIN users u ON u.id = c.used_user_id";

/// One invitation code, as administrators see it (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InvitationCodeRow {
    pub id: i64,
    pub name: String,
    pub code_prefix: String,
    pub status: i64,
    pub created_by: i64,
    pub used_user_id: i64,
    /// The username of `used_user_id` ('' when unused or gone).
    pub used_username: String,
    pub created_time: i64,
    pub used_time: i64,
    /// 0: never expires.
    pub expired_time: i64,
}

impl InvitationCodeRow {
    /// new-api's `state`: `used`, `disabled`, `expired` or `enabled`, as of `now`.
    pub fn state(&self, now: i64) -> &'static str {
        match self.status {
            INVITATION_USED => "used",
            INVITATION_DISABLED => "disabled",
            _ if self.expired_time != 0 && self.expired_time <= now => "expired",
            _ => "enabled",
        }
    }
}

/// A search of the codes: a keyword (id, name prefix, code prefix or whole code) and a state
/// (`enabled`, `disabled`, `used`, `expired` or new-api's numbers; anything else: all).
#[derive(Debug, Clone, Copy, Default)]
pub struct InvitationSearch<'a> {
    pub keyword: &'a str,
    pub status: &'a str,
}

/// Why a code could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationRefusal {
    /// No code was given.
    Missing,
    /// No such code (or an over-long one).
    Invalid,
    /// Already used.
    Used,
    /// Switched off.
    Disabled,
    /// Past its expiry.
    Expired,
}

impl InvitationRefusal {
    /// The message a registrant reads.
    pub fn message(self) -> &'static str {
        match self {
            InvitationRefusal::Missing => "An invitation code is required to register",
            InvitationRefusal::Invalid => "Invalid invitation code",
            InvitationRefusal::Used => "The invitation code has been used",
            InvitationRefusal::Disabled => "The invitation code has been disabled",
            InvitationRefusal::Expired => "The invitation code has expired",
        }
    }
}

/// What became of switching a code on or off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvitationStatusOutcome {
    Changed(InvitationCodeRow),
    /// A used code keeps its status.
    Used,
    NotFound,
}

/// The form a code is compared in: trimmed and upper-cased.
pub fn normalize_invitation_code(code: &str) -> String {
    code.trim().to_uppercase()
}

/// What is stored of a code: the SHA-256 of its normalized form, in hex.
pub fn hash_invitation_code(code: &str) -> String {
    sha256_hex(normalize_invitation_code(code).as_bytes())
}

impl Db {
    /// Stores `codes` (fresh, normalized) as enabled codes named `name`, all or none.
    pub async fn create_invitation_codes(
        &self,
        name: &str,
        created_by: i64,
        expired_time: i64,
        codes: &[String],
    ) -> Result<(), DbError> {
        super::check_lengths("invitation_codes", &[("name", name)])?;
        let now = now_secs();
        let mut tx = self.pool().begin().await?;
        for code in codes {
            let prefix: String = code.chars().take(INVITATION_PREFIX_CHARS).collect();
            sqlx::query(
                "INSERT INTO invitation_codes (name, code_hash, code_prefix, status, created_by, \
                 created_time, expired_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(name)
            .bind(hash_invitation_code(code))
            .bind(prefix)
            .bind(INVITATION_ENABLED)
            .bind(created_by)
            .bind(now)
            .bind(expired_time)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A page of the codes matching `search`, newest first, and how many match.
    pub async fn invitation_codes_page(
        &self,
        search: InvitationSearch<'_>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<InvitationCodeRow>, i64), DbError> {
        let (condition, args) = search_condition(search, now_secs());
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {condition} ORDER BY c.id DESC LIMIT ? OFFSET ?"
        );
        let rows = bind_args!(sqlx::query_as(AssertSqlSafe(rows_sql)), &args)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let count_sql = format!("SELECT COUNT(*) FROM invitation_codes c WHERE {condition}");
        let total = bind_args!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &args)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// One code.
    pub async fn invitation_code(&self, id: i64) -> Result<Option<InvitationCodeRow>, DbError> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE c.id = ?"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Renames a code and sets its expiry; `None` when it does not exist.
    pub async fn update_invitation_code(
        &self,
        id: i64,
        name: &str,
        expired_time: i64,
    ) -> Result<Option<InvitationCodeRow>, DbError> {
        super::check_lengths("invitation_codes", &[("name", name)])?;
        sqlx::query("UPDATE invitation_codes SET name = ?, expired_time = ? WHERE id = ?")
            .bind(name)
            .bind(expired_time)
            .bind(id)
            .execute(self.pool())
            .await?;
        self.invitation_code(id).await
    }

    /// Switches an unused code on or off (`status` is [`INVITATION_ENABLED`] or
    /// [`INVITATION_DISABLED`]). A code used meanwhile stays used.
    pub async fn set_invitation_code_status(
        &self,
        id: i64,
        status: i64,
    ) -> Result<InvitationStatusOutcome, DbError> {
        sqlx::query("UPDATE invitation_codes SET status = ? WHERE id = ? AND status IN (?, ?)")
            .bind(status)
            .bind(id)
            .bind(INVITATION_ENABLED)
            .bind(INVITATION_DISABLED)
            .execute(self.pool())
            .await?;
        Ok(match self.invitation_code(id).await? {
            None => InvitationStatusOutcome::NotFound,
            Some(row) if row.status == INVITATION_USED => InvitationStatusOutcome::Used,
            Some(row) => InvitationStatusOutcome::Changed(row),
        })
    }

    /// Deletes a code; false when it does not exist.
    pub async fn delete_invitation_code(&self, id: i64) -> Result<bool, DbError> {
        let result = sqlx::query("DELETE FROM invitation_codes WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes every used code; returns how many.
    pub async fn delete_used_invitation_codes(&self) -> Result<u64, DbError> {
        let result = sqlx::query("DELETE FROM invitation_codes WHERE status = ?")
            .bind(INVITATION_USED)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected())
    }
}

/// Uses up `code` for the new user `user_id`, inside the caller's transaction `conn`: the code
/// must exist, be enabled and unexpired. The update is conditional, so a code is used once
/// however many transactions try; the caller rolls back on a refusal.
pub(super) async fn consume_invitation_code(
    conn: &mut AnyConnection,
    code: &str,
    user_id: i64,
) -> Result<Result<(), InvitationRefusal>, DbError> {
    if code.trim().is_empty() {
        return Ok(Err(InvitationRefusal::Missing));
    }
    if code.chars().count() > INVITATION_CODE_MAX_CHARS {
        return Ok(Err(InvitationRefusal::Invalid));
    }
    let hash = hash_invitation_code(code);
    let now = now_secs();
    let used = sqlx::query(
        "UPDATE invitation_codes SET status = ?, used_user_id = ?, used_time = ? \
         WHERE code_hash = ? AND status = ? AND (expired_time = 0 OR expired_time > ?)",
    )
    .bind(INVITATION_USED)
    .bind(user_id)
    .bind(now)
    .bind(&hash)
    .bind(INVITATION_ENABLED)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if used.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    let found: Option<(i64, i64)> =
        sqlx::query_as("SELECT status, expired_time FROM invitation_codes WHERE code_hash = ?")
            .bind(&hash)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(Err(match found {
        None => InvitationRefusal::Invalid,
        Some((INVITATION_USED, _)) => InvitationRefusal::Used,
        Some((INVITATION_DISABLED, _)) => InvitationRefusal::Disabled,
        Some((INVITATION_ENABLED, _)) => InvitationRefusal::Expired,
        Some(_) => InvitationRefusal::Invalid,
    }))
}

/// The WHERE condition of a search and its arguments, as new-api's `SearchInvitationCodes`.
fn search_condition(search: InvitationSearch<'_>, now: i64) -> (String, Vec<Arg>) {
    let mut parts = Vec::new();
    let mut args = Vec::new();
    let keyword = search.keyword.trim();
    if !keyword.is_empty() {
        let mut any = vec![
            "c.name LIKE ? ESCAPE '!'".to_string(),
            "c.code_prefix LIKE ? ESCAPE '!'".to_string(),
            "c.code_hash = ?".to_string(),
        ];
        args.push(Arg::Text(format!("{}%", like_escape(keyword))));
        let normalized = normalize_invitation_code(keyword);
        let prefix: String = normalized.chars().take(INVITATION_PREFIX_CHARS).collect();
        args.push(Arg::Text(format!("{}%", like_escape(&prefix))));
        args.push(Arg::Text(hash_invitation_code(keyword)));
        if let Ok(id) = keyword.parse::<i64>() {
            any.push("c.id = ?".into());
            args.push(Arg::Int(id));
        }
        parts.push(format!("({})", any.join(" OR ")));
    }
    match search.status.trim().to_lowercase().as_str() {
        "enabled" | "1" => {
            parts.push("c.status = ? AND (c.expired_time = 0 OR c.expired_time > ?)".into());
            args.extend([Arg::Int(INVITATION_ENABLED), Arg::Int(now)]);
        }
        "disabled" | "2" => {
            parts.push("c.status = ?".into());
            args.push(Arg::Int(INVITATION_DISABLED));
        }
        "used" | "3" => {
            parts.push("c.status = ?".into());
            args.push(Arg::Int(INVITATION_USED));
        }
        "expired" => {
            parts.push("c.status = ? AND c.expired_time <> 0 AND c.expired_time <= ?".into());
            args.extend([Arg::Int(INVITATION_ENABLED), Arg::Int(now)]);
        }
        _ => {}
    }
    if parts.is_empty() {
        ("1 = 1".into(), args)
    } else {
        (parts.join(" AND "), args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_compare_trimmed_and_upper_cased() {
        assert_eq!(
            hash_invitation_code(" inv-abc "),
            hash_invitation_code("INV-ABC")
        );
        assert_ne!(
            hash_invitation_code("INV-ABC"),
            hash_invitation_code("INV-ABD")
        );
        assert_eq!(hash_invitation_code("x").len(), 64);
    }

    #[test]
    fn states_follow_status_then_expiry() {
        let row = |status, expired_time| InvitationCodeRow {
            id: 1,
            name: String::new(),
            code_prefix: String::new(),
            status,
            created_by: 0,
            used_user_id: 0,
            used_username: String::new(),
            created_time: 0,
            used_time: 0,
            expired_time,
        };
        assert_eq!(row(INVITATION_ENABLED, 0).state(100), "enabled");
        assert_eq!(row(INVITATION_ENABLED, 100).state(100), "expired");
        assert_eq!(row(INVITATION_ENABLED, 101).state(100), "enabled");
        assert_eq!(row(INVITATION_DISABLED, 50).state(100), "disabled");
        assert_eq!(row(INVITATION_USED, 50).state(100), "used");
    }
}
