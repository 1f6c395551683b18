//! The codes themselves: TOTP secrets (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of skew
//! either way, as new-api and every authenticator app use) and single-use backup codes in
//! new-api's `XXXX-XXXX` form, stored as Argon2id hashes.

use crate::error::ApiError;
use pylon_shared::crypto::{hash_password, verify_password};
use rand::Rng;
use totp_rs::{Algorithm, Secret, TOTP};

/// Seconds per TOTP step.
pub const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
/// Steps accepted on either side of the current one (clock drift, slow typing).
const SKEW_STEPS: u64 = 1;
/// How many backup codes a setup or a regeneration hands out (new-api's count).
const BACKUP_CODE_COUNT: usize = 4;
/// Characters of a backup code, without its dash.
const BACKUP_CODE_LEN: usize = 8;
const BACKUP_CODE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A fresh TOTP secret: its base32 text and the `otpauth://` URI an authenticator app scans.
pub fn new_secret(issuer: &str, account: &str) -> Result<(String, String), ApiError> {
    let secret = Secret::generate_secret();
    let bytes = secret
        .to_bytes()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("TOTP secret: {e:?}")))?;
    // The URI's label is `issuer:account`; a colon inside either would break it.
    let totp = TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        bytes,
        Some(issuer.replace(':', " ")),
        account.replace(':', " "),
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("TOTP setup: {e}")))?;
    Ok((totp.get_secret_base32(), totp.get_url()))
}

/// The time step whose code `code` is, within the skew around `now` (unix seconds); the latest
/// one if several match. `None` when the code fits no step or the secret is unreadable.
pub fn matching_step(secret_base32: &str, code: &str, now: u64) -> Option<i64> {
    let bytes = Secret::Encoded(secret_base32.to_string()).to_bytes().ok()?;
    let totp = TOTP::new_unchecked(
        Algorithm::SHA1,
        DIGITS,
        0,
        STEP_SECS,
        bytes,
        None,
        String::new(),
    );
    let current = now / STEP_SECS;
    (current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS)
        .rev()
        .find(|step| {
            pylon_shared::crypto::constant_time_eq(
                totp.generate(step * STEP_SECS).as_bytes(),
                code.as_bytes(),
            )
        })
        .and_then(|step| i64::try_from(step).ok())
}

/// new-api's `ValidateNumericCode`: spaces removed, exactly six digits.
pub fn clean_numeric(code: &str) -> Result<String, ApiError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.chars().count() != DIGITS {
        return Err(ApiError::invalid("The verification code must be 6 digits"));
    }
    if !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid("The verification code must be numeric"));
    }
    Ok(code)
}

/// New random backup codes, `XXXX-XXXX`.
pub fn new_backup_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..BACKUP_CODE_COUNT)
        .map(|_| {
            let chars: String = (0..BACKUP_CODE_LEN)
                .map(|_| {
                    let index = rng.random_range(0..BACKUP_CODE_ALPHABET.len());
                    char::from(BACKUP_CODE_ALPHABET.get(index).copied().unwrap_or(b'A'))
                })
                .collect();
            let (head, tail) = chars.split_at(BACKUP_CODE_LEN / 2);
            format!("{head}-{tail}")
        })
        .collect()
}

/// The canonical `XXXX-XXXX` form of what a user typed (any case, dashes and spaces
/// anywhere), or `None` when it cannot be a backup code.
pub fn normalize_backup_code(code: &str) -> Option<String> {
    let clean: String = code
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.len() != BACKUP_CODE_LEN || !clean.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let (head, tail) = clean.split_at(BACKUP_CODE_LEN / 2);
    Some(format!("{head}-{tail}"))
}

/// Argon2id hashes of `codes` (computed off the async workers: each takes milliseconds).
pub async fn hash_backup_codes(codes: &[String]) -> Result<Vec<String>, ApiError> {
    let codes = codes.to_vec();
    tokio::task::spawn_blocking(move || {
        codes
            .iter()
            .map(|code| hash_password(code))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing backup codes: {e}")))
}

/// The index of the hash in `hashes` that `normalized` matches, if any.
pub async fn find_backup_code(
    normalized: &str,
    hashes: Vec<String>,
) -> Result<Option<usize>, ApiError> {
    let normalized = normalized.to_string();
    tokio::task::spawn_blocking(move || {
        hashes
            .iter()
            .position(|hash| verify_password(&normalized, hash))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_neighbouring_steps_match_and_others_do_not() {
        let (secret, url) = new_secret("Pylon", "alice").unwrap();
        assert!(url.starts_with("otpauth://totp/Pylon:alice?secret="));
        let bytes = Secret::Encoded(secret.clone()).to_bytes().unwrap();
        let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes, None, String::new());
        let now = 1_700_000_015;
        let step = (now / 30) as i64;
        assert_eq!(matching_step(&secret, &totp.generate(now), now), Some(step));
        assert_eq!(
            matching_step(&secret, &totp.generate(now - 30), now),
            Some(step - 1)
        );
        assert_eq!(
            matching_step(&secret, &totp.generate(now + 30), now),
            Some(step + 1)
        );
        let far = totp.generate(now + 90);
        let near: Vec<String> = (0..3).map(|i| totp.generate(now - 30 + i * 30)).collect();
        if !near.contains(&far) {
            assert_eq!(matching_step(&secret, &far, now), None);
        }
        assert_eq!(matching_step("not base32 !", "123456", now), None);
    }

    #[test]
    fn numeric_codes_are_cleaned_and_checked() {
        assert_eq!(clean_numeric(" 123 456 ").unwrap(), "123456");
        assert!(clean_numeric("12345").is_err());
        assert!(clean_numeric("12345a").is_err());
    }

    #[test]
    fn backup_codes_have_new_apis_form_and_normalize() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), BACKUP_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 9);
            assert_eq!(normalize_backup_code(code).as_deref(), Some(code.as_str()));
            let sloppy = code.replace('-', "").to_lowercase();
            assert_eq!(
                normalize_backup_code(&sloppy).as_deref(),
                Some(code.as_str())
            );
        }
        assert_eq!(normalize_backup_code("ABCD-EFG"), None);
        assert_eq!(normalize_backup_code("ABCD-EFG!"), None);
    }
}
