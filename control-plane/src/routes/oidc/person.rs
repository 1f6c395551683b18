//! What an OIDC identity's account is called: as new-api names OIDC sign-ups, the username is
//! the `preferred_username` (or the email's local part), keeping letters, digits, `_`, `-` and
//! `.`, made unique with a random suffix when taken; the display name is `name`, else
//! `preferred_username`, else "OIDC User".

use super::provider::Identity;
use super::sign_in_id::Person;
use super::signup::{MAX_USERNAME_CHARS, display_name};

impl Identity {
    /// The person to sign in, sign up or bind.
    pub fn person(&self) -> Person {
        let base = base_username(self);
        Person {
            id: self.sub.clone(),
            legacy_id: String::new(),
            usernames: vec![base.clone()],
            username_stem: base,
            display_name: display_name(
                [self.name.as_str(), self.preferred_username.as_str()],
                "OIDC User",
            ),
            email: self.email.clone(),
        }
    }
}

/// The wanted username, cut to the maximum length; "oidc_user" when nothing is left.
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
        assert_eq!(
            identity("ada", "", "Ada L.").person().display_name,
            "Ada L."
        );
        assert_eq!(identity("ada", "", "").person().display_name, "ada");
        assert_eq!(identity("", "", " ").person().display_name, "OIDC User");
    }
}
