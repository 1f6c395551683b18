//! The data Telegram's login widget hands the site (`id`, `first_name`, `last_name`,
//! `username`, `photo_url`, `auth_date`, `hash`), checked as Telegram documents: `hash` is the
//! hex HMAC-SHA256 of the data-check-string (every other field as `key=value`, sorted by key,
//! joined by line feeds) keyed with the SHA-256 of the bot's token, compared in constant time;
//! `auth_date` must be recent. Pure code: the routes add single use.

use pylon_shared::crypto::{constant_time_eq, hmac_sha256_hex};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How old an authorization may be (and how long its use is remembered).
pub const MAX_AGE_SECS: i64 = 3600;
/// How far in the future `auth_date` may lie (clocks differ).
const MAX_SKEW_SECS: i64 = 60;

/// An authorization whose signature and age were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The Telegram user id.
    pub id: String,
    /// The signature, which names this authorization (for single use).
    pub hash: String,
}

/// Why widget data was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A field is missing, repeated or malformed, or the signature does not match.
    Invalid,
    /// The authorization is too old (or dated in the future).
    Expired,
}

/// Checks the widget's fields (the query's pairs, in any order) against the bot's token at
/// unix time `now`.
pub fn verify(pairs: &[(String, String)], bot_token: &str, now: i64) -> Result<Verified, Refusal> {
    let mut fields = BTreeMap::new();
    for (key, value) in pairs {
        // A repeated field makes the signed data ambiguous.
        if fields.insert(key.as_str(), value.as_str()).is_some() {
            return Err(Refusal::Invalid);
        }
    }
    let hash = fields.remove("hash").ok_or(Refusal::Invalid)?;
    let check_string = fields
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("\n");
    let expected = hmac_sha256_hex(
        &Sha256::digest(bot_token.as_bytes()),
        check_string.as_bytes(),
    );
    if bot_token.is_empty()
        || !constant_time_eq(expected.as_bytes(), hash.to_ascii_lowercase().as_bytes())
    {
        return Err(Refusal::Invalid);
    }
    let id = fields.get("id").copied().unwrap_or("");
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 20 {
        return Err(Refusal::Invalid);
    }
    let auth_date: i64 = fields
        .get("auth_date")
        .and_then(|v| v.parse().ok())
        .ok_or(Refusal::Invalid)?;
    if now - auth_date > MAX_AGE_SECS || auth_date - now > MAX_SKEW_SECS {
        return Err(Refusal::Expired);
    }
    Ok(Verified {
        id: id.to_string(),
        hash: hash.to_ascii_lowercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:bot-token";

    fn signed(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut sorted: Vec<_> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        sorted.sort();
        let hash = hmac_sha256_hex(
            &Sha256::digest(TOKEN.as_bytes()),
            sorted.join("\n").as_bytes(),
        );
        let mut pairs: Vec<_> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        pairs.push(("hash".into(), hash));
        pairs
    }

    #[test]
    fn signed_fresh_data_verifies_in_any_order() {
        let mut pairs = signed(&[("id", "42"), ("first_name", "Ada"), ("auth_date", "1000")]);
        pairs.reverse();
        let verified = verify(&pairs, TOKEN, 1010).expect("valid");
        assert_eq!(verified.id, "42");
    }

    #[test]
    fn tampering_a_wrong_token_or_old_data_is_refused() {
        let pairs = signed(&[("id", "42"), ("auth_date", "1000")]);
        assert_eq!(verify(&pairs, "other", 1000), Err(Refusal::Invalid));
        assert_eq!(verify(&pairs, "", 1000), Err(Refusal::Invalid));
        let mut tampered = pairs.clone();
        tampered[0].1 = "43".into();
        assert_eq!(verify(&tampered, TOKEN, 1000), Err(Refusal::Invalid));
        let mut extra = pairs.clone();
        extra.push(("username".into(), "mallory".into()));
        assert_eq!(verify(&extra, TOKEN, 1000), Err(Refusal::Invalid));
        let mut repeated = pairs.clone();
        repeated.push(("id".into(), "42".into()));
        assert_eq!(verify(&repeated, TOKEN, 1000), Err(Refusal::Invalid));
        let unsigned: Vec<_> = pairs.iter().filter(|(k, _)| k != "hash").cloned().collect();
        assert_eq!(verify(&unsigned, TOKEN, 1000), Err(Refusal::Invalid));
        assert_eq!(
            verify(&pairs, TOKEN, 1000 + MAX_AGE_SECS + 1),
            Err(Refusal::Expired)
        );
        assert_eq!(verify(&pairs, TOKEN, 1000 - 61), Err(Refusal::Expired));
        let no_id = signed(&[("auth_date", "1000")]);
        assert_eq!(verify(&no_id, TOKEN, 1000), Err(Refusal::Invalid));
    }
}
