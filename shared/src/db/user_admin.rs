//! Administrators' reads and changes of other users' accounts (new-api's user management):
//! listing and searching, profile edits, role and status changes and soft deletion. Every
//! change that could leave the system without an enabled root is refused in the same statement
//! that makes it, so two concurrent requests cannot both remove "the other" last root.

use super::{Db, DbError, UserRow, now_secs};
use crate::roles::{ROLE_ROOT, STATUS_ENABLED};
use sqlx::AssertSqlSafe;

/// new-api's sign-in bindings of a user and the `users` column each is kept in.
const BINDING_COLUMNS: [(&str, &str); 7] = [
    ("email", "email"),
    ("github", "github_id"),
    ("discord", "discord_id"),
    ("oidc", "oidc_id"),
    ("wechat", "wechat_id"),
    ("telegram", "telegram_id"),
    ("linuxdo", "linux_do_id"),
];

/// The `users` column of one of new-api's sign-in bindings (see [`BindingColumn::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingColumn(&'static str);

impl BindingColumn {
    pub const GITHUB: Self = Self("github_id");
    pub const DISCORD: Self = Self("discord_id");
    pub const OIDC: Self = Self("oidc_id");
    pub const WECHAT: Self = Self("wechat_id");
    pub const TELEGRAM: Self = Self("telegram_id");
    pub const LINUXDO: Self = Self("linux_do_id");

    /// The column's name in SQL.
    pub(super) fn name(self) -> &'static str {
        self.0
    }

    /// The column of binding type `name` (`email`, `github`, `discord`, `oidc`, `wechat`,
    /// `telegram`, `linuxdo`); `None` for any other name.
    pub fn of(name: &str) -> Option<Self> {
        BINDING_COLUMNS
            .iter()
            .find(|(binding, _)| *binding == name)
            .map(|(_, column)| BindingColumn(column))
    }
}

/// The columns of [`UserRow`]. `users.rs` keeps the same list in a macro private to it; both
/// must name every field of the struct.
const USER_COLUMNS: &str = "id, username, password, display_name, role, status, email, \
    github_id, discord_id, oidc_id, wechat_id, telegram_id, linux_do_id, \
    access_token_expires_at, quota, used_quota, request_count, `group`, aff_code, aff_count, \
    aff_quota, aff_history_quota, inviter_id, setting, remark, stripe_customer, created_at, \
    last_login_at";

/// Appended to an UPDATE of one user (`WHERE id = ? ...`): true unless the row is a root and
/// no other live, enabled root exists. Binds: ROLE_ROOT, ROLE_ROOT, STATUS_ENABLED, the id.
/// The count sits in a derived table with an aggregate so that MySQL materialises it instead
/// of refusing a subquery on the table being updated.
const KEEPS_A_ROOT: &str = " AND (role <> ? OR (SELECT n FROM (SELECT COUNT(*) AS n FROM users \
    WHERE role = ? AND status = ? AND deleted_at IS NULL AND id <> ?) AS other_roots) > 0)";

/// The filters of `GET /api/user/search` (new-api's names). Empty strings and `None` do not
/// filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserSearch<'a> {
    /// Matches the id exactly (when numeric) or a substring of the username, email or display
    /// name, ignoring ASCII case.
    pub keyword: &'a str,
    /// The exact group.
    pub group: &'a str,
    pub role: Option<i64>,
    pub status: Option<i64>,
}

/// The columns a user list may be sorted by (new-api's `sort_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UserSort {
    #[default]
    Id,
    Username,
    Quota,
    Group,
    CreatedAt,
    LastLoginAt,
}

impl UserSort {
    /// The sort named by new-api's `sort_by` value, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "id" => Some(Self::Id),
            "username" => Some(Self::Username),
            "quota" => Some(Self::Quota),
            "group" => Some(Self::Group),
            "created_at" => Some(Self::CreatedAt),
            "last_login_at" => Some(Self::LastLoginAt),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Username => "username",
            Self::Quota => "quota",
            Self::Group => "`group`",
            Self::CreatedAt => "created_at",
            Self::LastLoginAt => "last_login_at",
        }
    }
}

/// What a profile edit writes; everything else (quota, role, status) has its own path.
#[derive(Debug, Clone, Copy)]
pub struct UserProfile<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub email: &'a str,
    pub group: &'a str,
    pub remark: &'a str,
    /// A new Argon2 hash, or `None` to keep the password.
    pub password_hash: Option<&'a str>,
}

enum Bound {
    Int(i64),
    Text(String),
}

/// Escapes `%`, `_` and the escape character itself for `LIKE ... ESCAPE '!'`.
fn like_escape(text: &str) -> String {
    text.replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_")
}

impl UserSearch<'_> {
    /// `" AND ..."` conditions after `deleted_at IS NULL`, and their values.
    fn conditions(&self) -> (String, Vec<Bound>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        let keyword = self.keyword.trim();
        if !keyword.is_empty() {
            // SQLite's LIKE ignores ASCII case and MySQL's follows the (binary) collation:
            // lowering both sides makes them agree.
            let pattern = format!("%{}%", like_escape(keyword).to_ascii_lowercase());
            sql.push_str(" AND (");
            if let Ok(id) = keyword.parse::<i64>() {
                sql.push_str("id = ? OR ");
                values.push(Bound::Int(id));
            }
            sql.push_str(
                "LOWER(username) LIKE ? ESCAPE '!' OR LOWER(email) LIKE ? ESCAPE '!' \
                 OR LOWER(display_name) LIKE ? ESCAPE '!')",
            );
            for _ in 0..3 {
                values.push(Bound::Text(pattern.clone()));
            }
        }
        if !self.group.is_empty() {
            sql.push_str(" AND `group` = ?");
            values.push(Bound::Text(self.group.to_string()));
        }
        for (value, column) in [(self.role, "role"), (self.status, "status")] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {column} = ?"));
                values.push(Bound::Int(value));
            }
        }
        (sql, values)
    }
}

/// Whether `error` is a violation of a unique key (a username taken by a concurrent request).
pub fn is_unique_violation(error: &DbError) -> bool {
    matches!(error, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
}

impl Db {
    /// One page of live users matching `search`, sorted by `sort` (then newest first), and how
    /// many match in all.
    pub async fn search_users(
        &self,
        search: &UserSearch<'_>,
        sort: UserSort,
        ascending: bool,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<UserRow>, i64), DbError> {
        let (conditions, values) = search.conditions();
        let count_sql = format!("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL{conditions}");
        let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql));
        for value in &values {
            count = match value {
                Bound::Int(v) => count.bind(*v),
                Bound::Text(v) => count.bind(v.clone()),
            };
        }
        let total: i64 = count.fetch_one(self.pool()).await?;

        let direction = if ascending { "ASC" } else { "DESC" };
        let tie_break = if sort == UserSort::Id {
            ""
        } else {
            ", id DESC"
        };
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE deleted_at IS NULL{conditions} \
             ORDER BY {} {direction}{tie_break} LIMIT ? OFFSET ?",
            sort.column()
        );
        let mut query = sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql));
        for value in values {
            query = match value {
                Bound::Int(v) => query.bind(v),
                Bound::Text(v) => query.bind(v),
            };
        }
        let rows = query
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        Ok((rows, total))
    }

    /// Whether a user other than `except_id` holds `username`, deleted users included (their
    /// names stay reserved, as in new-api, and the column is unique).
    pub async fn username_taken(&self, username: &str, except_id: i64) -> Result<bool, DbError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ? AND id <> ?")
                .bind(username)
                .bind(except_id)
                .fetch_one(self.pool())
                .await?;
        Ok(count > 0)
    }

    /// Whether a live user other than `except_id` has `email` (ignoring ASCII case): an email
    /// is also a login name, so it must name one account.
    pub async fn email_taken(&self, email: &str, except_id: i64) -> Result<bool, DbError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE LOWER(email) = ? AND id <> ? AND deleted_at IS NULL",
        )
        .bind(email.to_ascii_lowercase())
        .bind(except_id)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// Writes a live user's profile; false when the user does not exist (any more).
    pub async fn update_user_profile(
        &self,
        id: i64,
        profile: &UserProfile<'_>,
    ) -> Result<bool, DbError> {
        super::check_lengths(
            "users",
            &[
                ("username", profile.username),
                ("display_name", profile.display_name),
                ("email", profile.email),
                ("group", profile.group),
                ("remark", profile.remark),
            ],
        )?;
        let query = match profile.password_hash {
            Some(hash) => sqlx::query(
                "UPDATE users SET username = ?, display_name = ?, email = ?, `group` = ?, \
                 remark = ?, password = ? WHERE id = ? AND deleted_at IS NULL",
            )
            .bind(profile.username)
            .bind(profile.display_name)
            .bind(profile.email)
            .bind(profile.group)
            .bind(profile.remark)
            .bind(hash),
            None => sqlx::query(
                "UPDATE users SET username = ?, display_name = ?, email = ?, `group` = ?, \
                 remark = ? WHERE id = ? AND deleted_at IS NULL",
            )
            .bind(profile.username)
            .bind(profile.display_name)
            .bind(profile.email)
            .bind(profile.group)
            .bind(profile.remark),
        };
        let result = query.bind(id).execute(self.pool()).await?;
        Ok(result.rows_affected() == 1)
    }

    /// Changes a live user's role from `from` to `to`. False when the role is no longer `from`,
    /// the user is gone, or the user is the last enabled root.
    pub async fn change_user_role(&self, id: i64, from: i64, to: i64) -> Result<bool, DbError> {
        let sql = format!(
            "UPDATE users SET role = ? WHERE id = ? AND role = ? AND deleted_at IS NULL{KEEPS_A_ROOT}"
        );
        let result = sqlx::query(AssertSqlSafe(sql))
            .bind(to)
            .bind(id)
            .bind(from)
            .bind(ROLE_ROOT)
            .bind(ROLE_ROOT)
            .bind(STATUS_ENABLED)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Sets a live user's status. Anything but enabling is refused (false) for the last enabled
    /// root, as for a user that does not exist.
    pub async fn change_user_status(&self, id: i64, status: i64) -> Result<bool, DbError> {
        let guard = if status == STATUS_ENABLED {
            ""
        } else {
            KEEPS_A_ROOT
        };
        let sql = format!("UPDATE users SET status = ? WHERE id = ? AND deleted_at IS NULL{guard}");
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(status).bind(id);
        if status != STATUS_ENABLED {
            query = query
                .bind(ROLE_ROOT)
                .bind(ROLE_ROOT)
                .bind(STATUS_ENABLED)
                .bind(id);
        }
        let result = query.execute(self.pool()).await?;
        Ok(result.rows_affected() == 1)
    }

    /// Marks a live user deleted and drops their access token. Refused (false) for the last
    /// enabled root and for a user already gone.
    pub async fn soft_delete_user(&self, id: i64) -> Result<bool, DbError> {
        let sql = format!(
            "UPDATE users SET deleted_at = ?, access_token_hash = NULL, \
             access_token_expires_at = 0 WHERE id = ? AND deleted_at IS NULL{KEEPS_A_ROOT}"
        );
        let result = sqlx::query(AssertSqlSafe(sql))
            .bind(now_secs())
            .bind(id)
            .bind(ROLE_ROOT)
            .bind(ROLE_ROOT)
            .bind(STATUS_ENABLED)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Empties the sign-in binding `column` of the live user `id`; false when there is no such
    /// user.
    pub async fn clear_user_binding(
        &self,
        id: i64,
        column: BindingColumn,
    ) -> Result<bool, DbError> {
        let result = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET {} = '' WHERE id = ? AND deleted_at IS NULL",
            column.0
        )))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Revokes a user's access token.
    pub async fn clear_access_token(&self, id: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET access_token_hash = NULL, access_token_expires_at = 0 WHERE id = ?",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// How many live, enabled roots there are besides `id`.
    pub async fn count_other_enabled_roots(&self, id: i64) -> Result<i64, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = ? AND status = ? AND deleted_at IS NULL \
             AND id <> ?",
        )
        .bind(ROLE_ROOT)
        .bind(STATUS_ENABLED)
        .bind(id)
        .fetch_one(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_are_new_api_names() {
        assert_eq!(UserSort::parse("quota"), Some(UserSort::Quota));
        assert_eq!(
            UserSort::parse(" Last_Login_At "),
            Some(UserSort::LastLoginAt)
        );
        assert_eq!(UserSort::parse("password"), None);
    }

    #[test]
    fn keywords_match_literally() {
        let search = UserSearch {
            keyword: "a_b%",
            ..UserSearch::default()
        };
        let (sql, values) = search.conditions();
        assert!(!sql.contains("id = ?"));
        assert!(matches!(&values[0], Bound::Text(p) if p == "%a!_b!%%"));
        let numeric = UserSearch {
            keyword: "42",
            group: "vip",
            role: Some(1),
            status: None,
        };
        let (sql, values) = numeric.conditions();
        assert!(sql.starts_with(" AND (id = ? OR "));
        assert!(sql.ends_with(" AND `group` = ? AND role = ?"));
        assert_eq!(values.len(), 6);
    }
}
