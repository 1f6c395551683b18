//! Creating the account of a subject seen for the first time, as new-api does for OAuth sign-ups:
//! an ordinary user (role 1) in the default group with `QuotaForNewUser` (granted through the
//! ledger with the account), named after the
//! provider's `preferred_username` (or the email's local part), made unique.

use super::provider::Identity;
use crate::app::App;
use crate::error::ApiError;
use crate::ledger;
use crate::routes::invitation::settings::{InvitationSettings, METHOD_OIDC};
use pylon_shared::changes::Topic;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewUser, OidcSignup};
use pylon_shared::roles::ROLE_COMMON;

/// Usernames are at most 20 characters (new-api's `UserNameMaxLength`).
const MAX_USERNAME_CHARS: usize = 20;
/// `users.display_name` is VARCHAR(64).
const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// `users.email` is VARCHAR(255).
const MAX_EMAIL_CHARS: usize = 255;
/// Random suffixes tried after the plain name is taken.
const SUFFIX_ATTEMPTS: usize = 8;

/// Creates the user of `identity` and returns its id.
/// When the operator requires an invitation code to sign up through OIDC, no account is made:
/// the OIDC flow carries no code.
pub async fn create(app: &App, identity: &Identity, quota: i64) -> Result<i64, ApiError> {
    if InvitationSettings::of(&app.settings.now()).requires(METHOD_OIDC) {
        return Err(ApiError::invalid(
            "An invitation code is required to register; ask an administrator for an account",
        ));
    }
    let base = base_username(identity);
    let display_name = display_name(identity);
    // An email that is someone else's is not stored (the provider may not have verified it),
    // and the sign-up goes on without it, so the answer never tells whether it exists.
    let email = identity.email.trim().to_lowercase();
    let email = if email.contains('@')
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !app.db.oidc_email_taken(&email, 0).await?
    {
        email
    } else {
        String::new()
    };

    for attempt in 0..=SUFFIX_ATTEMPTS {
        let username = if attempt == 0 {
            base.clone()
        } else {
            let stem: String = base.chars().take(MAX_USERNAME_CHARS - 5).collect();
            format!("{stem}_{}", random_alphanumeric(4).to_lowercase())
        };
        let user = NewUser {
            username: &username,
            password_hash: "",
            display_name: &display_name,
            role: ROLE_COMMON,
            quota,
            group: "default",
            email: &email,
            inviter_id: 0,
        };
        if let OidcSignup::Created(signup) = app.db.create_oidc_user(&user, &identity.sub).await? {
            ledger::after_commit(app, &signup.movements, &signup.changes).await;
            if let Err(error) = app.changes.publish(Topic::User, signup.id).await {
                // Committed: the proxies learn of the user when they look it up.
                tracing::warn!(%error, user = signup.id, "new user not announced");
            }
            tracing::info!(user = signup.id, %username, "user signed up via OIDC");
            return Ok(signup.id);
        }
    }
    Err(ApiError::invalid(
        "Could not find a free username for this OIDC account, please try again",
    ))
}

/// The wanted username: `preferred_username`, else the email's local part, else "oidc_user",
/// keeping letters, digits, `_`, `-` and `.`, cut to the maximum length.
fn base_username(identity: &Identity) -> String {
    let local_part = identity.email.split('@').next().unwrap_or("");
    let wanted = [identity.preferred_username.as_str(), local_part]
        .into_iter()
        .map(|candidate| {
            candidate
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .take(MAX_USERNAME_CHARS)
                .collect::<String>()
        })
        .find(|candidate| !candidate.is_empty());
    wanted.unwrap_or_else(|| "oidc_user".to_string())
}

/// The display name: `name`, else `preferred_username`, else "OIDC User" (as new-api).
fn display_name(identity: &Identity) -> String {
    let name = [identity.name.as_str(), identity.preferred_username.as_str()]
        .into_iter()
        .map(|candidate| {
            candidate
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_DISPLAY_NAME_CHARS)
                .collect::<String>()
        })
        .find(|candidate| !candidate.trim().is_empty());
    name.unwrap_or_else(|| "OIDC User".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(preferred: &str, email: &str, name: &str) -> Identity {
        Identity {
            sub: "s".into(),
            email: email.into(),
            preferred_username: preferred.into(),
            name: name.into(),
        }
    }

    #[test]
    fn username_comes_from_preferred_username_then_email() {
        assert_eq!(base_username(&identity("ada", "x@y.z", "")), "ada");
        assert_eq!(base_username(&identity("", "grace.h@y.z", "")), "grace.h");
        assert_eq!(base_username(&identity("a b!", "", "")), "ab");
        assert_eq!(base_username(&identity("", "", "")), "oidc_user");
        assert_eq!(base_username(&identity("!!!", "", "")), "oidc_user");
        assert_eq!(
            base_username(&identity("a-very-long-preferred-username", "", "")),
            "a-very-long-preferre"
        );
    }

    #[test]
    fn display_name_falls_back_as_new_api_does() {
        assert_eq!(display_name(&identity("ada", "", "Ada L.")), "Ada L.");
        assert_eq!(display_name(&identity("ada", "", "")), "ada");
        assert_eq!(display_name(&identity("", "", " ")), "OIDC User");
    }
}
