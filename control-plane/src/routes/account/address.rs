//! Email addresses given by clients: normalized (trimmed, lower-cased, as new-api's
//! `NormalizeEmail`), checked for shape, and held to the operator's domain whitelist
//! (`EmailDomainRestrictionEnabled` + `EmailDomainWhitelist`) and alias rule
//! (`EmailAliasRestrictionEnabled`).

use super::flag;
use crate::app::App;
use crate::error::ApiError;

/// `users.email` is VARCHAR(255).
const MAX_EMAIL_LEN: usize = 254;

/// The normalized form of a client's address, or an error when it is not an address.
pub fn normalize(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
                    && !local.contains(['<', '>', '"', ',', ';'])
                    && domain
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(ApiError::invalid("Invalid email address"))
    }
}

/// Refuses an address the operator's rules exclude (new-api's messages).
pub async fn check_allowed(app: &App, email: &str) -> Result<(), ApiError> {
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    if flag(app, "EmailDomainRestrictionEnabled", false).await? {
        let whitelist = app.settings.now().text("EmailDomainWhitelist").to_string();
        let allowed = whitelist
            .split(',')
            .map(|d| d.trim().to_lowercase())
            .any(|d| !d.is_empty() && d == domain);
        if !allowed {
            return Err(ApiError::invalid(
                "The administrator has enabled the email domain name whitelist, and your email \
                 address is not allowed due to special symbols or it's not in the whitelist.",
            ));
        }
    }
    if flag(app, "EmailAliasRestrictionEnabled", false).await?
        && (local.contains('+') || local.contains('.'))
    {
        return Err(ApiError::invalid(
            "The administrator has enabled email alias restriction: addresses containing '+' or \
             '.' before the '@' are not allowed.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn addresses_are_normalized_and_checked() {
        assert_eq!(
            normalize("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            normalize("a.b+c@mail.example.org").unwrap(),
            "a.b+c@mail.example.org"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@@example.com",
            "alice@exa mple.com",
            "alice@.example.com",
            "alice@example..com",
            "a<b>@example.com",
            "alice@exam_ple.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad} accepted");
        }
    }
}
