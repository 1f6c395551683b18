//! The `custom_oauth_providers` and `user_oauth_bindings` tables: new-api's custom OAuth
//! providers (defined by the root at run time) and which account each provider account signs
//! in as. The provider's configuration beyond its identity (`settings`) is a JSON document the
//! control plane owns; this module only stores it. A binding is unique both ways (one account
//! per provider account, one provider account per user and provider): the indexes decide
//! between concurrent sign-ups or binds, never a read followed by a write.

use sqlx::AssertSqlSafe;

use super::{Db, DbError, Movement, NewUser, Signup, check_lengths, is_unique_violation, now_secs};

const TABLE: &str = "custom_oauth_providers";
const COLUMNS: &str =
    "id, name, slug, kind, enabled, client_id, client_secret, settings, created_at, updated_at";

/// One stored provider.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomOAuthProviderRow {
    pub id: i64,
    pub name: String,
    /// Unique, lower case: the provider's name in URLs.
    pub slug: String,
    /// `oauth_code`, `jwt_direct` or `trusted_header`.
    pub kind: String,
    /// 0 or 1.
    pub enabled: i64,
    pub client_id: String,
    /// Sealed with the key encryption secret; empty when none is set.
    pub client_secret: String,
    /// The rest of the configuration (JSON object).
    pub settings: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What the root sets on a provider (all of it: an update is merged with the stored one by
/// the caller).
#[derive(Debug, Clone, Copy)]
pub struct CustomOAuthProviderFields<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub kind: &'a str,
    pub enabled: bool,
    pub client_id: &'a str,
    /// Already sealed (or empty).
    pub client_secret: &'a str,
    pub settings: &'a str,
}

/// What became of a write to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderWrite {
    /// Written; the provider's id.
    Done(i64),
    NotFound,
    /// Another provider has the slug: nothing was written.
    SlugTaken,
}

/// What became of deleting a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderDelete {
    Deleted,
    NotFound,
    /// Users are bound to it: nothing was deleted.
    HasBindings,
}

/// Who a provider account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingOwner {
    /// A live user.
    Live(i64),
    /// A deleted user (new-api refuses to sign such an account in again).
    Deleted(i64),
}

/// One of a user's bindings, with the provider it is with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserBindingRow {
    pub provider_id: i64,
    pub provider_user_id: String,
    pub provider_name: String,
    pub provider_slug: String,
    /// The provider's `settings` (its icon is there).
    pub provider_settings: String,
}

/// What became of binding a provider account to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    /// Bound (or it already was, to this user).
    Bound,
    /// Another user holds this provider account.
    TakenByOther,
    /// The user is bound to another account of this provider.
    UserHasAnother,
    /// The user or the provider is gone.
    Gone,
}

/// What became of creating the account of a provider account seen for the first time.
#[derive(Debug, Clone)]
pub enum ExternalSignup {
    /// Created, bound, and granted its starting quota.
    Created(Signup),
    /// The username is someone else's: try another one.
    UsernameTaken,
    /// A concurrent sign-in bound the provider account first: nothing was created.
    IdentityTaken,
}

impl Db {
    /// Every provider (only the enabled ones when `enabled_only`), by id.
    pub async fn custom_oauth_providers(
        &self,
        enabled_only: bool,
    ) -> Result<Vec<CustomOAuthProviderRow>, DbError> {
        let filter = if enabled_only {
            "WHERE enabled = 1 "
        } else {
            ""
        };
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {TABLE} {filter}ORDER BY id"
        )));
        self.fetch_decoded(TABLE, query).await
    }

    /// One provider by id.
    pub async fn custom_oauth_provider(
        &self,
        id: i64,
    ) -> Result<Option<CustomOAuthProviderRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {TABLE} WHERE id = ?"
        )))
        .bind(id);
        self.fetch_optional_decoded(TABLE, query).await
    }

    /// One provider by slug.
    pub async fn custom_oauth_provider_by_slug(
        &self,
        slug: &str,
    ) -> Result<Option<CustomOAuthProviderRow>, DbError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {TABLE} WHERE slug = ?"
        )))
        .bind(slug);
        self.fetch_optional_decoded(TABLE, query).await
    }

    /// Creates a provider.
    pub async fn create_custom_oauth_provider(
        &self,
        fields: CustomOAuthProviderFields<'_>,
    ) -> Result<ProviderWrite, DbError> {
        check_provider_lengths(&fields)?;
        let now = now_secs();
        let mut conn = self.pool().acquire().await?;
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {TABLE} (name, slug, kind, enabled, client_id, client_secret, settings, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(fields.name)
        .bind(fields.slug)
        .bind(fields.kind)
        .bind(i64::from(fields.enabled))
        .bind(fields.client_id)
        .bind(fields.client_secret)
        .bind(fields.settings)
        .bind(now)
        .bind(now)
        .execute(&mut *conn)
        .await;
        match inserted {
            Ok(result) => Ok(ProviderWrite::Done(
                super::inserted_id(&mut conn, self.dialect(), &result).await?,
            )),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Ok(ProviderWrite::SlugTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces every field of provider `id`.
    pub async fn update_custom_oauth_provider(
        &self,
        id: i64,
        fields: CustomOAuthProviderFields<'_>,
    ) -> Result<ProviderWrite, DbError> {
        check_provider_lengths(&fields)?;
        let mut tx = self.pool().begin().await?;
        let exists: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {TABLE} WHERE id = ?"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if exists == 0 {
            return Ok(ProviderWrite::NotFound);
        }
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE {TABLE} SET name = ?, slug = ?, kind = ?, enabled = ?, client_id = ?, \
             client_secret = ?, settings = ?, updated_at = ? WHERE id = ?"
        )))
        .bind(fields.name)
        .bind(fields.slug)
        .bind(fields.kind)
        .bind(i64::from(fields.enabled))
        .bind(fields.client_id)
        .bind(fields.client_secret)
        .bind(fields.settings)
        .bind(now_secs())
        .bind(id)
        .execute(&mut *tx)
        .await;
        match updated {
            Ok(_) => {
                tx.commit().await?;
                Ok(ProviderWrite::Done(id))
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                Ok(ProviderWrite::SlugTaken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes provider `id`, unless a user is bound to it (checked in the same statement).
    pub async fn delete_custom_oauth_provider(&self, id: i64) -> Result<ProviderDelete, DbError> {
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {TABLE} WHERE id = ? AND NOT EXISTS \
             (SELECT 1 FROM user_oauth_bindings WHERE provider_id = ?)"
        )))
        .bind(id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let outcome = if deleted.rows_affected() > 0 {
            ProviderDelete::Deleted
        } else {
            let exists: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {TABLE} WHERE id = ?"
            )))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if exists == 0 {
                ProviderDelete::NotFound
            } else {
                ProviderDelete::HasBindings
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The user bound to `provider_user_id` of provider `provider_id`.
    pub async fn binding_owner(
        &self,
        provider_id: i64,
        provider_user_id: &str,
    ) -> Result<Option<BindingOwner>, DbError> {
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT u.id, u.deleted_at FROM user_oauth_bindings b JOIN users u ON u.id = b.user_id \
             WHERE b.provider_id = ? AND b.provider_user_id = ?",
        )
        .bind(provider_id)
        .bind(provider_user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(id, deleted_at)| match deleted_at {
            None => BindingOwner::Live(id),
            Some(_) => BindingOwner::Deleted(id),
        }))
    }

    /// The provider account `user_id` is bound to at provider `provider_id`, if any.
    pub async fn user_binding(
        &self,
        user_id: i64,
        provider_id: i64,
    ) -> Result<Option<String>, DbError> {
        Ok(sqlx::query_scalar(
            "SELECT provider_user_id FROM user_oauth_bindings WHERE user_id = ? AND provider_id = ?",
        )
        .bind(user_id)
        .bind(provider_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every binding of `user_id` to a provider that still exists, by provider id.
    pub async fn user_bindings(&self, user_id: i64) -> Result<Vec<UserBindingRow>, DbError> {
        Ok(sqlx::query_as(
            "SELECT b.provider_id, b.provider_user_id, p.name AS provider_name, \
             p.slug AS provider_slug, p.settings AS provider_settings \
             FROM user_oauth_bindings b JOIN custom_oauth_providers p ON p.id = b.provider_id \
             WHERE b.user_id = ? ORDER BY b.provider_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Binds `provider_user_id` of provider `provider_id` to the live user `user_id`.
    pub async fn bind_external_identity(
        &self,
        user_id: i64,
        provider_id: i64,
        provider_user_id: &str,
    ) -> Result<BindOutcome, DbError> {
        check_lengths(
            "user_oauth_bindings",
            &[("provider_user_id", provider_user_id)],
        )?;
        let mut tx = self.pool().begin().await?;
        let holder: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM user_oauth_bindings WHERE provider_id = ? AND provider_user_id = ?",
        )
        .bind(provider_id)
        .bind(provider_user_id)
        .fetch_optional(&mut *tx)
        .await?;
        match holder {
            Some(holder) if holder == user_id => return Ok(BindOutcome::Bound),
            Some(_) => return Ok(BindOutcome::TakenByOther),
            None => {}
        }
        // Only for a live user and an existing provider.
        let inserted = sqlx::query(
            "INSERT INTO user_oauth_bindings (user_id, provider_id, provider_user_id, created_at) \
             SELECT u.id, p.id, ?, ? FROM users u JOIN custom_oauth_providers p ON p.id = ? \
             WHERE u.id = ? AND u.deleted_at IS NULL",
        )
        .bind(provider_user_id)
        .bind(now_secs())
        .bind(provider_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(result) if result.rows_affected() == 1 => {
                tx.commit().await?;
                Ok(BindOutcome::Bound)
            }
            Ok(_) => Ok(BindOutcome::Gone),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                // Either index: tell which from what is there now.
                match self.user_binding(user_id, provider_id).await? {
                    Some(bound) if bound == provider_user_id => Ok(BindOutcome::Bound),
                    Some(_) => Ok(BindOutcome::UserHasAnother),
                    None => Ok(BindOutcome::TakenByOther),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `user_id`'s binding to provider `provider_id`; false when there was none.
    pub async fn unbind_external_identity(
        &self,
        user_id: i64,
        provider_id: i64,
    ) -> Result<bool, DbError> {
        let result =
            sqlx::query("DELETE FROM user_oauth_bindings WHERE user_id = ? AND provider_id = ?")
                .bind(user_id)
                .bind(provider_id)
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// The highest user id so far (0 without users): new-api names an account a provider
    /// creates `{slug}_{max id + 1}` when the provider proposes no usable username.
    pub async fn max_user_id(&self) -> Result<i64, DbError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM users")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// The users, live or deleted, whose email is `email` (case-insensitive): at most two, so
    /// that the caller can tell one from several.
    pub async fn users_with_email(&self, email: &str) -> Result<Vec<BindingOwner>, DbError> {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, deleted_at FROM users WHERE email <> '' AND LOWER(email) = ? \
             ORDER BY id LIMIT 2",
        )
        .bind(email.to_lowercase())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, deleted_at)| match deleted_at {
                None => BindingOwner::Live(id),
                Some(_) => BindingOwner::Deleted(id),
            })
            .collect())
    }

    /// Creates an account already bound to `provider_user_id` of provider `provider_id` (no
    /// password: it signs in through the provider until the user sets one), with its starting
    /// quota (`user.quota`) and the invitation bonuses `rewards` builds from the new id, granted
    /// through the ledger in the same transaction.
    pub async fn create_external_user(
        &self,
        user: &NewUser<'_>,
        provider_id: i64,
        provider_user_id: &str,
        rewards: impl FnOnce(i64) -> Vec<Movement>,
    ) -> Result<ExternalSignup, DbError> {
        check_lengths(
            "user_oauth_bindings",
            &[("provider_user_id", provider_user_id)],
        )?;
        let mut tx = self.pool().begin().await?;
        // `username` is the only unique column this insert sets.
        let id = match self.insert_user(&mut tx, user, None).await {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Ok(ExternalSignup::UsernameTaken);
            }
            Err(e) => return Err(e),
        };
        let bound = sqlx::query(
            "INSERT INTO user_oauth_bindings (user_id, provider_id, provider_user_id, created_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(id)
        .bind(provider_id)
        .bind(provider_user_id)
        .bind(now_secs())
        .execute(&mut *tx)
        .await;
        match bound {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tx.rollback().await?;
                return Ok(ExternalSignup::IdentityTaken);
            }
            Err(e) => return Err(e.into()),
        }
        let signup = self.credit_signup(&mut tx, id, user, rewards(id)).await?;
        tx.commit().await?;
        Ok(ExternalSignup::Created(signup))
    }

    /// Updates what a provider reports about a live user on each sign-in (each `Some` field);
    /// false when the username is taken by another user (nothing is written then).
    pub async fn sync_external_profile(
        &self,
        user_id: i64,
        profile: &ExternalProfile<'_>,
    ) -> Result<bool, DbError> {
        let mut sets = Vec::new();
        let mut values: Vec<&str> = Vec::new();
        for (column, value) in [
            ("username", profile.username),
            ("display_name", profile.display_name),
            ("email", profile.email),
            ("`group`", profile.group),
        ] {
            if let Some(value) = value {
                sets.push(format!("{column} = ?"));
                values.push(value);
            }
        }
        check_lengths(
            "users",
            &[
                ("username", profile.username.unwrap_or("")),
                ("display_name", profile.display_name.unwrap_or("")),
                ("email", profile.email.unwrap_or("")),
                ("group", profile.group.unwrap_or("")),
            ],
        )?;
        if let Some(role) = profile.role {
            // An integer, never text: safe to write into the statement.
            sets.push(format!("role = {role}"));
        }
        if sets.is_empty() {
            return Ok(true);
        }
        let sql = format!(
            "UPDATE users SET {} WHERE id = ? AND deleted_at IS NULL",
            sets.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        match query.bind(user_id).execute(self.pool()).await {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The profile fields a sign-in through a provider updates (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ExternalProfile<'a> {
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub group: Option<&'a str>,
    /// A common user's or an administrator's role (1 or 10: new-api syncs only those).
    pub role: Option<i64>,
}

fn check_provider_lengths(fields: &CustomOAuthProviderFields<'_>) -> Result<(), DbError> {
    check_lengths(
        TABLE,
        &[
            ("name", fields.name),
            ("slug", fields.slug),
            ("kind", fields.kind),
            ("client_id", fields.client_id),
            ("client_secret", fields.client_secret),
            ("settings", fields.settings),
        ],
    )
}
