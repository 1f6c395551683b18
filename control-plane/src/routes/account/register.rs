//! `POST /api/user/register` `{username, password, password2?, email, verification_code,
//! aff_code}`: new-api's self-registration. The options `RegisterEnabled` and
//! `PasswordRegisterEnabled` (default on) can close it; with `EmailVerificationEnabled` the
//! address must be proven with a code from `GET /api/verification` (used up here) and is stored,
//! otherwise it is ignored, as in new-api. A new user is a common user in group `default` with
//! `QuotaForNewUser`. A valid invitation code (`aff_code`) records the inviter, who gets one more
//! `aff_count` and `QuotaForInviter` added to `aff_quota`; the new user gets `QuotaForInvitee`.
//! An unknown invitation code registers without an inviter. When the operator requires
//! new-api's invitation codes for password registration (`routes::invitation::settings`), a
//! valid unused `invitation_code` is needed and used up with the user, in one transaction. Every bonus is one ledger movement
//! (logged), written in the transaction that creates the user.

use super::invitation_rewards::InvitationRewards;
use super::{address, critical_limit, flag, quota_option};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::ledger;
use crate::routes::invitation::settings::{InvitationSettings, METHOD_PASSWORD};
use crate::routes::setup::{validate_password, validate_username};
use crate::verification::{self, Purpose};
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::{hash_password, random_alphanumeric};
use pylon_shared::db::{InvitationRefusal, NewUser, Registration, Signup};
use pylon_shared::roles::ROLE_COMMON;
use serde::Deserialize;

const USERNAME_TAKEN: &str = "Username already exists or has been deleted";
const EMAIL_TAKEN: &str = "This email address is already in use";
const BAD_CODE: &str = "Verification code is incorrect or has expired";
/// Length of a user's own invitation code (new-api: 4 random characters).
const AFF_CODE_CHARS: usize = 4;
/// Fresh invitation codes tried when one collides with another user's.
const AFF_CODE_TRIES: usize = 8;

#[derive(Deserialize)]
struct RegisterRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    verification_code: String,
    #[serde(default)]
    aff_code: String,
    /// new-api's invitation code, used up when the operator requires one.
    #[serde(default)]
    invitation_code: String,
}

pub async fn register(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult {
    critical_limit(&app, "register", ip).await?;
    if !flag(&app, "RegisterEnabled", true).await? {
        return Err(ApiError::invalid(
            "The administrator has disabled new user registration",
        ));
    }
    if !flag(&app, "PasswordRegisterEnabled", true).await? {
        return Err(ApiError::invalid(
            "The administrator has disabled registration with a password; use a third-party \
             account to register",
        ));
    }
    let request: RegisterRequest = parse_json(&body)?;
    let username = request.username.trim();
    validate_username(username)?;
    if matches!(&request.password2, Some(again) if !again.is_empty() && *again != request.password)
    {
        return Err(ApiError::invalid("The two passwords do not match"));
    }
    validate_password(&request.password)?;
    let invitations = InvitationSettings::of(&app.settings.now());
    let invitation_code = invitations
        .requires(METHOD_PASSWORD)
        .then_some(request.invitation_code.as_str());
    if let Some(code) = invitation_code
        && code.trim().is_empty()
    {
        return Err(ApiError::invalid(InvitationRefusal::Missing.message()));
    }
    let email = email_to_verify(&app, &request).await?;
    if app.db.username_exists(username).await? {
        return Err(ApiError::invalid(USERNAME_TAKEN));
    }
    // Everything that can be refused without the code has been: only now is it used up, and
    // only a valid code may learn whether the address is taken.
    if let Some(email) = &email {
        let code = request.verification_code.trim();
        if !verification::consume(&app, Purpose::EmailVerification, email, code).await? {
            return Err(ApiError::invalid(BAD_CODE));
        }
        if app.db.email_in_use(email).await? {
            return Err(ApiError::invalid(EMAIL_TAKEN));
        }
    }

    let rewards = InvitationRewards::of_aff_code(&app, &request.aff_code).await?;
    let inviter_id = rewards.inviter();
    let password = request.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let new_user_quota = quota_option(&app, "QuotaForNewUser").await?;
    let user = NewUser {
        username,
        password_hash: &password_hash,
        display_name: username,
        role: ROLE_COMMON,
        quota: new_user_quota,
        group: "default",
        email: email.as_deref().unwrap_or(""),
        inviter_id: inviter_id.unwrap_or(0),
    };
    let signup = insert(&app, &user, invitation_code, rewards).await?;
    ledger::after_commit(&app, &signup.movements, &signup.changes).await;
    if let Err(error) = app.changes.publish(Topic::User, signup.id).await {
        // Committed: the proxies learn of the user when they look it up.
        tracing::warn!(%error, user_id = signup.id, "new user not announced");
    }
    tracing::info!(user_id = signup.id, username, inviter = ?inviter_id, "user registered");
    Ok(envelope::ok_message(""))
}

/// With email verification on: the normalized address, which must be given with a code and be
/// allowed by the operator's rules. Without it: `None` (the address is not stored).
async fn email_to_verify(app: &App, request: &RegisterRequest) -> Result<Option<String>, ApiError> {
    if !flag(app, "EmailVerificationEnabled", false).await? {
        return Ok(None);
    }
    if request.email.trim().is_empty() || request.verification_code.trim().is_empty() {
        return Err(ApiError::invalid(
            "Email verification is enabled: enter your email address and the verification code",
        ));
    }
    let email = address::normalize(&request.email)?;
    address::check_allowed(app, &email).await?;
    Ok(Some(email))
}

/// Inserts the user with a fresh invitation code of its own, retrying when the code collides.
async fn insert(
    app: &App,
    user: &NewUser<'_>,
    invitation_code: Option<&str>,
    rewards: InvitationRewards,
) -> Result<Signup, ApiError> {
    for _ in 0..AFF_CODE_TRIES {
        let aff_code = random_alphanumeric(AFF_CODE_CHARS);
        match app
            .db
            .register_user(user, &aff_code, invitation_code, |id| rewards.movements(id))
            .await?
        {
            Registration::Created(signup) => return Ok(signup),
            Registration::UsernameTaken => return Err(ApiError::invalid(USERNAME_TAKEN)),
            Registration::AffCodeTaken => continue,
            Registration::InvitationRefused(refusal) => {
                return Err(ApiError::invalid(refusal.message()));
            }
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "no free invitation code after {AFF_CODE_TRIES} tries"
    )))
}
