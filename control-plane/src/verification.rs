//! One-time codes sent by email (address verification, email-code login, password reset), kept
//! in the shared cache so that every control-plane node sees them, in embedded and Redis mode
//! alike; keyed by purpose and a hash of the address. A code is valid for [`VALID_FOR`] (fixed,
//! as new-api's), is used at most once (even by concurrent requests), and is burned after
//! [`MAX_ATTEMPTS`] wrong guesses. Only a hash of the code is stored; comparisons take constant
//! time.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::crypto::{constant_time_eq, random_alphanumeric, sha256_hex};
use rand::Rng;
use std::time::Duration;

/// How long a code is valid (new-api's `VerificationValidMinutes`).
pub const VALID_FOR: Duration = Duration::from_secs(10 * 60);
/// Wrong guesses a code survives; the next one burns it.
pub const MAX_ATTEMPTS: u64 = 5;
/// Digits of a code a person types.
const CODE_DIGITS: usize = 6;
/// Characters of a token carried in a link.
const LINK_TOKEN_CHARS: usize = 32;

/// What a code allows; a code never works for another purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the address (registration; binding an address to an account).
    EmailVerification,
    /// Logs in to the account with the address.
    Login,
    /// Resets the password of the account with the address.
    PasswordReset,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "verify",
            Purpose::Login => "login",
            Purpose::PasswordReset => "reset",
        }
    }

    /// A fresh secret for this purpose: six digits to type, or a long token for a link.
    pub fn new_code(self) -> String {
        match self {
            Purpose::PasswordReset => random_alphanumeric(LINK_TOKEN_CHARS),
            Purpose::EmailVerification | Purpose::Login => {
                let mut rng = rand::rng();
                (0..CODE_DIGITS)
                    .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                    .collect()
            }
        }
    }
}

struct Keys {
    base: String,
    code: String,
    tries: String,
}

/// Compared against when no code exists: as long as a SHA-256 in hex (so that the comparison
/// takes the same time), and never equal to one (it is not hex).
const NO_CODE_HASH: &str = "################################################################";

fn keys(purpose: Purpose, email: &str) -> Keys {
    // Hashed so that an address never becomes a raw cache key.
    let base = format!(
        "vc:{}:{}",
        purpose.tag(),
        sha256_hex(email.trim().to_lowercase().as_bytes())
    );
    Keys {
        code: format!("{base}:code"),
        tries: format!("{base}:tries"),
        base,
    }
}

/// Stores `code` for `purpose` and `email`, replacing any earlier code (which stops working),
/// with a fresh budget of guesses.
pub async fn issue(app: &App, purpose: Purpose, email: &str, code: &str) -> Result<(), ApiError> {
    let keys = keys(purpose, email);
    // A fresh nonce per code gives it its own use marker.
    let nonce = random_alphanumeric(16);
    let value = format!("{nonce}:{}", sha256_hex(code.as_bytes()));
    app.cache.delete(&keys.tries).await?;
    app.cache.set(&keys.code, &value, VALID_FOR).await?;
    Ok(())
}

/// Uses up the code for `purpose` and `email` if `code` is it. False when it is wrong, expired,
/// already used or never issued; a wrong guess also spends one of [`MAX_ATTEMPTS`], and the
/// guess after the last burns the code. The same steps run whether or not a code exists, so
/// that the time of the answer does not tell.
pub async fn consume(
    app: &App,
    purpose: Purpose,
    email: &str,
    code: &str,
) -> Result<bool, ApiError> {
    let keys = keys(purpose, email);
    let attempts = app.cache.hit(&keys.tries, VALID_FOR).await?;
    let stored = app.cache.get(&keys.code).await?;
    let (nonce, stored_hash) = stored
        .as_deref()
        .and_then(|s| s.split_once(':'))
        .unwrap_or(("", NO_CODE_HASH));
    if attempts > MAX_ATTEMPTS {
        app.cache.delete(&keys.code).await?;
        return Ok(false);
    }
    let code = code.trim();
    let given = sha256_hex(code.as_bytes());
    let matches = constant_time_eq(given.as_bytes(), stored_hash.as_bytes());
    if !matches || code.is_empty() || nonce.is_empty() {
        return Ok(false);
    }
    // The counter is atomic in both backends: of concurrent requests with the right code,
    // exactly one sees 1 and wins.
    let claims = app
        .cache
        .hit(&format!("{}:used:{nonce}", keys.base), VALID_FOR)
        .await?;
    if claims != 1 {
        return Ok(false);
    }
    app.cache.delete(&keys.code).await?;
    app.cache.delete(&keys.tries).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::Purpose;

    #[test]
    fn codes_have_the_expected_shape() {
        let code = Purpose::EmailVerification.new_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let token = Purpose::PasswordReset.new_code();
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(token, Purpose::PasswordReset.new_code());
    }
}
