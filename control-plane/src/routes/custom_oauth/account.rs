//! Finishing a custom provider's flow, whatever its kind, as new-api's
//! `findOrCreateOAuthUserWithOptions` does: a signed-in caller's flow binds the provider
//! account to their own; otherwise the account bound to it signs in (its profile synced when
//! the provider says so), or an existing account with the same email is bound first (when the
//! provider merges by email), or a new account is made (when registration is open and the
//! provider registers). Sessions and answers are the OIDC sign-in's.
//!
//! The binding table's unique indexes decide between concurrent sign-ups or binds of one
//! provider account: the loser's transaction creates nothing, and it signs in as the winner.

use super::claims::Identity;
use super::config::{Kind, Provider};
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::ledger;
use crate::routes::account::invitation_rewards::InvitationRewards;
use crate::routes::invitation::settings::InvitationSettings;
use crate::routes::oidc::bind::bound;
use crate::routes::oidc::login::start_session;
use crate::routes::oidc::pending::{Pending, Purpose};
use crate::routes::oidc::settings::Settings as SiteOptions;
use crate::routes::oidc::signup::{display_name, usable_username};
use pylon_shared::changes::Topic;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{BindOutcome, BindingOwner, ExternalProfile, ExternalSignup, NewUser};
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_ENABLED};

/// new-api's registration method name for custom providers (invitation codes).
const METHOD: &str = "custom_oauth";
/// new-api syncs display names and emails up to these lengths.
const MAX_SYNCED_DISPLAY_NAME: usize = 20;
const MAX_SYNCED_EMAIL: usize = 50;
/// `users.email` is VARCHAR(255).
const MAX_EMAIL_CHARS: usize = 255;
/// Random usernames tried after the proposed ones are taken.
const SUFFIX_ATTEMPTS: usize = 8;

/// Where the request came from, for the session.
pub struct Client<'a> {
    pub ip: &'a str,
    pub user_agent: &'a str,
}

impl<'a> Client<'a> {
    /// The client at `ip` with the request's `User-Agent` ("" without one).
    pub fn of(ip: &'a str, headers: &'a axum::http::HeaderMap) -> Self {
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Self { ip, user_agent }
    }
}

/// Binds or signs in, as the flow's purpose says; a sign-up is credited to the flow's
/// invitation code (`GET /api/oauth/state?aff=`).
pub async fn finish(
    app: &App,
    provider: &Provider,
    identity: &Identity,
    pending: &Pending,
    client: &Client<'_>,
) -> ApiResult {
    match pending.purpose {
        Purpose::Bind(user_id) => {
            bind(app, provider, user_id, &identity.user.id).await?;
            Ok(bound())
        }
        Purpose::Login => {
            let user_id = resolve(app, provider, identity, pending.aff.as_deref()).await?;
            start_session(app, user_id, client.ip, client.user_agent).await
        }
    }
}

/// Binds the provider account `external_id` to the live, enabled user `user_id`.
async fn bind(
    app: &App,
    provider: &Provider,
    user_id: i64,
    external_id: &str,
) -> Result<(), ApiError> {
    let user = app.db.user_by_id(user_id).await?;
    if user.is_none_or(|u| u.status != STATUS_ENABLED) {
        return Err(ApiError::invalid("User has been banned or deleted"));
    }
    match app
        .db
        .bind_external_identity(user_id, provider.id, external_id)
        .await?
    {
        BindOutcome::Bound => {
            tracing::info!(user = user_id, provider = %provider.slug, "custom OAuth account bound");
            Ok(())
        }
        BindOutcome::TakenByOther => Err(ApiError::invalid(format!(
            "This {} account is already bound to another user",
            provider.name
        ))),
        BindOutcome::UserHasAnother => Err(ApiError::invalid(format!(
            "Your account is already bound to another {} account; unbind it first",
            provider.name
        ))),
        BindOutcome::Gone => Err(ApiError::invalid("User has been banned or deleted")),
    }
}

/// The account `identity` signs in as (found, merged by email, or created).
async fn resolve(
    app: &App,
    provider: &Provider,
    identity: &Identity,
    aff: Option<&str>,
) -> Result<i64, ApiError> {
    let external_id = &identity.user.id;
    if let Some(user_id) = owner(app, provider, external_id).await? {
        sync(app, provider, identity, user_id).await?;
        return Ok(user_id);
    }
    if provider.settings.auto_merge_by_email
        && let Some(user_id) = merge_candidate(app, provider, &identity.user.email).await?
    {
        // Bound only once the account is known to be usable (new-api's order).
        let user = app.db.user_by_id(user_id).await?;
        if user.is_none_or(|u| u.status != STATUS_ENABLED) {
            return Err(ApiError::invalid("User has been banned"));
        }
        bind(app, provider, user_id, external_id).await?;
        return Ok(user_id);
    }
    // new-api registers through an authorization code provider whenever registration is
    // open; the other kinds register only when the provider says so.
    if provider.kind != Kind::OAuthCode && !provider.settings.auto_register {
        return Err(ApiError::invalid(format!(
            "No account is bound to this {} account and automatic registration is off for it; \
             ask an administrator",
            provider.name
        )));
    }
    let options = SiteOptions::load(app).await?;
    if !options.register_enabled {
        return Err(ApiError::invalid(
            "New user registration has been disabled by the administrator",
        ));
    }
    if InvitationSettings::of(&app.settings.now()).requires(METHOD) {
        return Err(ApiError::invalid(
            "An invitation code is required to register; ask an administrator for an account",
        ));
    }
    create(app, provider, identity, options.quota_for_new_user, aff).await
}

/// The live user bound to `external_id`; a deleted one is refused (as new-api does) rather
/// than signed up again.
async fn owner(app: &App, provider: &Provider, external_id: &str) -> Result<Option<i64>, ApiError> {
    match app.db.binding_owner(provider.id, external_id).await? {
        Some(BindingOwner::Live(id)) => Ok(Some(id)),
        Some(BindingOwner::Deleted(_)) => Err(ApiError::invalid(format!(
            "The user bound to this {} account has been deleted",
            provider.name
        ))),
        None => Ok(None),
    }
}

/// The one account with `email` when the provider merges by email; several, or a deleted
/// one, refuse the merge (new-api's rules).
async fn merge_candidate(
    app: &App,
    provider: &Provider,
    email: &str,
) -> Result<Option<i64>, ApiError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    match app.db.users_with_email(email).await?.as_slice() {
        [] => Ok(None),
        [BindingOwner::Live(id)] => Ok(Some(*id)),
        [BindingOwner::Deleted(_)] => Err(ApiError::invalid(format!(
            "The user with this {} account's email has been deleted",
            provider.name
        ))),
        _ => Err(ApiError::invalid(
            "Several users have this email address: it cannot be merged automatically",
        )),
    }
}

/// Creates the account of a provider account seen for the first time.
async fn create(
    app: &App,
    provider: &Provider,
    identity: &Identity,
    quota: i64,
    aff: Option<&str>,
) -> Result<i64, ApiError> {
    let rewards = InvitationRewards::of_aff_code(app, aff.unwrap_or("")).await?;
    let external = &identity.user;
    let display_name = display_name(
        [external.display_name.as_str(), external.username.as_str()],
        &format!("{} User", provider.name),
    );
    // An email that is someone else's is not stored (the provider may not have verified it),
    // and the sign-up goes on without it, so the answer never tells whether it exists.
    let email = external.email.trim().to_lowercase();
    let email = if email.contains('@')
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !app.db.oidc_email_taken(&email, 0).await?
    {
        email
    } else {
        String::new()
    };
    let role = match identity.role {
        ROLE_ADMIN => ROLE_ADMIN,
        _ => ROLE_COMMON,
    };
    let group = if identity.group.is_empty() {
        "default"
    } else {
        identity.group.as_str()
    };
    let mut names = Vec::new();
    if usable_username(&external.username) {
        names.push(external.username.clone());
    }
    names.push(format!(
        "{}_{}",
        provider.slug,
        app.db.max_user_id().await? + 1
    ));
    for attempt in 0..SUFFIX_ATTEMPTS {
        let candidate = match names.get(attempt) {
            Some(name) => name.clone(),
            None => format!(
                "{}_{}",
                provider.slug,
                random_alphanumeric(6).to_lowercase()
            ),
        };
        let user = NewUser {
            username: &candidate,
            password_hash: "",
            display_name: &display_name,
            role,
            quota,
            group,
            email: &email,
            inviter_id: rewards.inviter().unwrap_or(0),
        };
        match app
            .db
            .create_external_user(&user, provider.id, &external.id, |id| rewards.movements(id))
            .await?
        {
            ExternalSignup::Created(signup) => {
                ledger::after_commit(app, &signup.movements, &signup.changes).await;
                if let Err(error) = app.changes.publish(Topic::User, signup.id).await {
                    // Committed: the proxies learn of the user when they look it up.
                    tracing::warn!(%error, user = signup.id, "new user not announced");
                }
                tracing::info!(user = signup.id, username = %candidate, provider = %provider.slug,
                    "user signed up via a custom OAuth provider");
                return Ok(signup.id);
            }
            ExternalSignup::UsernameTaken => continue,
            // A concurrent sign-in of the same provider account won: sign in as its account.
            ExternalSignup::IdentityTaken => {
                return owner(app, provider, &external.id).await?.ok_or_else(|| {
                    ApiError::invalid("Another sign-in of this account is in progress, try again")
                });
            }
        }
    }
    Err(ApiError::invalid(format!(
        "Could not find a free username for this {} account, please try again",
        provider.name
    )))
}

/// Updates what the provider is set to sync on each sign-in (new-api's
/// `syncOAuthUserLoginAttributes`): each value only when it is usable and differs; a username
/// or email another account holds is left as it is.
async fn sync(
    app: &App,
    provider: &Provider,
    identity: &Identity,
    user_id: i64,
) -> Result<(), ApiError> {
    let settings = &provider.settings;
    let wanted = settings.sync_username_on_login
        || settings.sync_display_name_on_login
        || settings.sync_email_on_login
        || settings.sync_group_on_login
        || settings.sync_role_on_login;
    if !wanted {
        return Ok(());
    }
    let Some(user) = app.db.user_by_id(user_id).await? else {
        return Ok(());
    };
    if user.status != STATUS_ENABLED {
        return Ok(());
    }
    let external = &identity.user;
    let mut profile = ExternalProfile::default();
    let username = external.username.trim();
    if settings.sync_username_on_login
        && usable_username(username)
        && username != user.username
        && !app.db.username_exists(username).await?
    {
        profile.username = Some(username);
    }
    let display_name = external.display_name.trim();
    if settings.sync_display_name_on_login
        && !display_name.is_empty()
        && display_name.chars().count() <= MAX_SYNCED_DISPLAY_NAME
        && display_name != user.display_name
    {
        profile.display_name = Some(display_name);
    }
    let email = external.email.trim().to_lowercase();
    if settings.sync_email_on_login
        && email.contains('@')
        && email.chars().count() <= MAX_SYNCED_EMAIL
        && email != user.email.to_lowercase()
        && !app.db.oidc_email_taken(&email, user.id).await?
    {
        profile.email = Some(&email);
    }
    if settings.sync_group_on_login && !identity.group.is_empty() && identity.group != user.group {
        profile.group = Some(&identity.group);
    }
    // Never a root's role, and only to a common user or an administrator.
    if settings.sync_role_on_login
        && matches!(identity.role, ROLE_COMMON | ROLE_ADMIN)
        && identity.role != user.role
        && user.role < ROLE_ROOT
    {
        profile.role = Some(identity.role);
    }
    let changed = profile.username.is_some()
        || profile.display_name.is_some()
        || profile.email.is_some()
        || profile.group.is_some()
        || profile.role.is_some();
    if !changed {
        return Ok(());
    }
    if !app.db.sync_external_profile(user.id, &profile).await? {
        tracing::info!(
            user = user.id,
            "custom OAuth profile sync skipped: username taken"
        );
        return Ok(());
    }
    app.changes.publish(Topic::User, user.id).await?;
    tracing::info!(user = user.id, provider = %provider.slug, "profile synced from a custom OAuth provider");
    Ok(())
}
