//! Creating the account of a provider id seen for the first time, as new-api does for OAuth
//! sign-ups: when registration is open (and the provider's method needs no invitation code),
//! an ordinary user (role 1) in the default group with `QuotaForNewUser` (granted through the
//! ledger with the account), under the first free username the person proposes, credited to
//! the flow's invitation code like a password registration.

use super::settings::Settings;
use super::sign_in_id::{Person, Slot};
use crate::app::App;
use crate::error::ApiError;
use crate::ledger;
use crate::routes::account::invitation_rewards::InvitationRewards;
use crate::routes::invitation::settings::InvitationSettings;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{NewUser, SignInSignup};
use pylon_shared::roles::ROLE_COMMON;

/// Usernames are at most 20 characters (new-api's `UserNameMaxLength`).
pub const MAX_USERNAME_CHARS: usize = 20;
/// `users.display_name` is VARCHAR(64).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
/// `users.email` is VARCHAR(255).
const MAX_EMAIL_CHARS: usize = 255;
/// Random suffixes tried after the proposed usernames are taken.
const SUFFIX_ATTEMPTS: usize = 8;

/// Creates the user of `person` at the provider of `slot` and returns its id; a known
/// invitation code `aff` credits the inviter and the new user as a password registration does.
pub async fn create(
    app: &App,
    slot: &Slot,
    person: &Person,
    aff: Option<&str>,
) -> Result<i64, ApiError> {
    let options = Settings::load(app).await?;
    if !options.register_enabled {
        return Err(ApiError::invalid(
            "New user registration has been disabled by the administrator",
        ));
    }
    // The provider's flow carries no invitation code.
    if InvitationSettings::of(&app.settings.now()).requires(slot.method) {
        return Err(ApiError::invalid(
            "An invitation code is required to register; ask an administrator for an account",
        ));
    }
    // An email that is someone else's is not stored (the provider may not have verified it),
    // and the sign-up goes on without it, so the answer never tells whether it exists.
    let email = person.email.trim().to_lowercase();
    let email = if email.contains('@')
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !app.db.oidc_email_taken(&email, 0).await?
    {
        email
    } else {
        String::new()
    };
    let rewards = InvitationRewards::of_aff_code(app, aff.unwrap_or("")).await?;
    let stem: String = person
        .username_stem
        .chars()
        .take(MAX_USERNAME_CHARS - 5)
        .collect();
    for attempt in 0..person.usernames.len() + SUFFIX_ATTEMPTS {
        let username = match person.usernames.get(attempt) {
            Some(name) => name.clone(),
            None => format!("{stem}_{}", random_alphanumeric(4).to_lowercase()),
        };
        let user = NewUser {
            username: &username,
            password_hash: "",
            display_name: &person.display_name,
            role: ROLE_COMMON,
            quota: options.quota_for_new_user,
            group: "default",
            email: &email,
            inviter_id: rewards.inviter().unwrap_or(0),
        };
        if let SignInSignup::Created(signup) = app
            .db
            .create_sign_in_user(&user, slot.column, &person.id, |id| rewards.movements(id))
            .await?
        {
            ledger::after_commit(app, &signup.movements, &signup.changes).await;
            if let Err(error) = app.changes.publish(Topic::User, signup.id).await {
                // Committed: the proxies learn of the user when they look it up.
                tracing::warn!(%error, user = signup.id, "new user not announced");
            }
            tracing::info!(user = signup.id, %username, provider = slot.name,
                inviter = ?rewards.inviter(), "user signed up");
            return Ok(signup.id);
        }
    }
    Err(ApiError::invalid(format!(
        "Could not find a free username for this {} account, please try again",
        slot.name
    )))
}

/// The first of `candidates` with something printable (control characters dropped, cut to
/// the column's length), else `fallback`.
pub fn display_name<'a>(candidates: impl IntoIterator<Item = &'a str>, fallback: &str) -> String {
    candidates
        .into_iter()
        .map(|candidate| {
            candidate
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_DISPLAY_NAME_CHARS)
                .collect::<String>()
        })
        .find(|candidate| !candidate.trim().is_empty())
        .unwrap_or_else(|| fallback.chars().take(MAX_DISPLAY_NAME_CHARS).collect())
}

/// Whether a provider's username can name an account as it is.
pub fn usable_username(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_USERNAME_CHARS
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_fall_back_in_order() {
        assert_eq!(display_name(["Ada L.", "ada"], "X User"), "Ada L.");
        assert_eq!(display_name(["", "ada"], "X User"), "ada");
        assert_eq!(display_name([" ", "\u{7}"], "X User"), "X User");
        assert_eq!(display_name(["a".repeat(70).as_str()], "").len(), 64);
    }

    #[test]
    fn usernames_must_fit_as_they_are() {
        assert!(usable_username("ada"));
        assert!(!usable_username(""));
        assert!(!usable_username("a b"));
        assert!(!usable_username(&"a".repeat(21)));
    }
}
