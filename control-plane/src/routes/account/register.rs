//! `POST /api/user/register` `{username, password, password2?, email, verification_code,
//! aff_code}`: new-api's self-registration. The options `RegisterEnabled` and
//! `PasswordRegisterEnabled` (default on) can close it; with `EmailVerificationEnabled` the
//! address must be proven with a code from `GET /api/verification` (used up here) and is stored,
//! otherwise it is ignored, as in new-api. A new user is a common user in group `default` with
//! `QuotaForNewUser`. A valid invitation code (`aff_code`) records the inviter, who gets one more
//! `aff_count` and `QuotaForInviter` added to `aff_quota`; the new user gets `QuotaForInvitee`.
//! An unknown invitation code registers without an inviter. Every bonus is logged.

use super::{address, critical_limit, flag, quota_option};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::quota::adjust_user_quota;
use crate::routes::setup::{validate_password, validate_username};
use crate::verification::{self, Purpose};
use axum::body::Bytes;
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::{hash_password, random_alphanumeric};
use pylon_shared::db::{InviterReward, LOG_TYPE_SYSTEM, NewUser, Registration};
use pylon_shared::roles::{QUOTA_PER_UNIT, ROLE_COMMON};
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

    let inviter_id = app.db.user_id_by_aff_code(request.aff_code.trim()).await?;
    let password = request.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let new_user_quota = quota_option(&app, "QuotaForNewUser").await?;
    let inviter_reward = quota_option(&app, "QuotaForInviter").await?;
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
    let reward = inviter_id.map(|inviter_id| InviterReward {
        inviter_id,
        aff_quota: inviter_reward,
    });
    let user_id = insert(&app, &user, reward).await?;

    if new_user_quota > 0 {
        let content = format!("New user registration bonus {}", quota_text(new_user_quota));
        app.db
            .record_log(user_id, LOG_TYPE_SYSTEM, &content, new_user_quota)
            .await?;
    }
    if let Some(reward) = reward {
        reward_invitation(&app, user_id, reward).await?;
    }
    app.changes.publish(Topic::User, user_id).await?;
    tracing::info!(user_id, username, inviter = ?inviter_id, "user registered");
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
    reward: Option<InviterReward>,
) -> Result<i64, ApiError> {
    for _ in 0..AFF_CODE_TRIES {
        let aff_code = random_alphanumeric(AFF_CODE_CHARS);
        match app.db.register_user(user, &aff_code, reward).await? {
            Registration::Created(id) => return Ok(id),
            Registration::UsernameTaken => return Err(ApiError::invalid(USERNAME_TAKEN)),
            Registration::AffCodeTaken => continue,
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "no free invitation code after {AFF_CODE_TRIES} tries"
    )))
}

/// The bonuses of an invitation, after the inviter's counters were updated with the user.
async fn reward_invitation(app: &App, user_id: i64, reward: InviterReward) -> Result<(), ApiError> {
    let invitee_bonus = quota_option(app, "QuotaForInvitee").await?;
    if invitee_bonus > 0 && adjust_user_quota(app, user_id, invitee_bonus, false).await? {
        let content = format!("Invite code bonus {}", quota_text(invitee_bonus));
        app.db
            .record_log(user_id, LOG_TYPE_SYSTEM, &content, invitee_bonus)
            .await?;
    }
    if reward.aff_quota > 0 {
        let content = format!(
            "Invited user bonus {} (invitation quota)",
            quota_text(reward.aff_quota)
        );
        app.db
            .record_log(
                reward.inviter_id,
                LOG_TYPE_SYSTEM,
                &content,
                reward.aff_quota,
            )
            .await?;
    }
    Ok(())
}

/// A quota as logs show it: the units and their value in USD.
fn quota_text(quota: i64) -> String {
    let usd = quota as f64 / QUOTA_PER_UNIT as f64;
    format!("{quota} (${usd:.2})")
}
