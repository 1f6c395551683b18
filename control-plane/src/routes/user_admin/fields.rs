//! The checks on the fields an administrator sets on an account (new-api's limits where it has
//! them), shared by create and update.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::roles::QUOTA_PER_UNIT;

/// new-api's `max=20` on display names.
const MAX_DISPLAY_NAME_CHARS: usize = 20;
/// new-api's `max=255` on remarks (`users.remark` is VARCHAR(255)).
const MAX_REMARK_CHARS: usize = 255;
/// `users.email` is VARCHAR(255).
const MAX_EMAIL_CHARS: usize = 255;
/// The largest quota an administrator may set: one billion dollars.
pub(super) const MAX_QUOTA: i64 = 1_000_000_000 * QUOTA_PER_UNIT;

/// A display name of at most 20 characters.
pub(super) fn check_display_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "Display name must not exceed {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "Display name must not contain control characters",
        ));
    }
    Ok(())
}

/// A remark of at most 255 characters.
pub(super) fn check_remark(remark: &str) -> Result<(), ApiError> {
    if remark.chars().count() > MAX_REMARK_CHARS {
        return Err(ApiError::invalid(format!(
            "Remark must not exceed {MAX_REMARK_CHARS} characters"
        )));
    }
    Ok(())
}

/// The email as stored (trimmed, lower-cased), or an error when it is not an address. Empty
/// clears it.
pub(super) fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Ok(email);
    }
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && email.matches('@').count() == 1;
    if !valid {
        return Err(ApiError::invalid(format!("Invalid email address: {email}")));
    }
    Ok(email)
}

/// A quota between 0 and [`MAX_QUOTA`].
pub(super) fn check_quota(quota: i64) -> Result<(), ApiError> {
    if quota < 0 {
        return Err(ApiError::invalid("Quota cannot be negative!"));
    }
    if quota > MAX_QUOTA {
        return Err(ApiError::invalid(format!(
            "Quota value exceeds valid range, maximum is {MAX_QUOTA}"
        )));
    }
    Ok(())
}

/// A group an account may be put in: one the `GET /api/group/` list offers, or `current`
/// (the account's own, which stays valid even if it was unlisted since).
pub(super) async fn check_group(app: &App, group: &str, current: &str) -> Result<(), ApiError> {
    if group == current {
        return Ok(());
    }
    if group.trim().is_empty() {
        return Err(ApiError::invalid("Group must not be empty"));
    }
    if super::super::group::known_groups(app)
        .await?
        .contains(group)
    {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "Unknown group {group}: add it to the GroupRatio option first"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email(" A@B.io ").ok().as_deref(), Some("a@b.io"));
        assert_eq!(normalize_email("").ok().as_deref(), Some(""));
        assert!(normalize_email("nobody").is_err());
        assert!(normalize_email("a@b").is_err());
        assert!(normalize_email("a b@c.io").is_err());
        assert!(normalize_email("a@b@c.io").is_err());
    }

    #[test]
    fn display_names_and_quotas_are_bounded() {
        assert!(check_display_name(&"名".repeat(20)).is_ok());
        assert!(check_display_name(&"a".repeat(21)).is_err());
        assert!(check_quota(0).is_ok());
        assert!(check_quota(MAX_QUOTA).is_ok());
        assert!(check_quota(-1).is_err());
        assert!(check_quota(MAX_QUOTA + 1).is_err());
    }
}
