//! The payment credentials kept in the `options` table (Stripe's API and webhook secrets, the
//! EPay key, Creem's API key and webhook secret, WeChat Pay's private key and API v3 key,
//! Waffo's API keys and merchant private keys, production and sandbox) are
//! stored sealed with the key encryption secret, like the copy of each API key, so that a
//! database dump alone does not reveal them. A sealed value carries [`SEALED_PREFIX`]; a value
//! without it is a plaintext one stored before sealing existed, still read as it is until it is
//! sealed in place.

use crate::crypto;

/// The option names that hold a payment credential.
pub const SECRET_OPTIONS: [&str; 11] = [
    "StripeApiSecret",
    "StripeWebhookSecret",
    "EpayKey",
    "CreemApiKey",
    "CreemWebhookSecret",
    "WechatPayPrivateKey",
    "WechatPayApiV3Key",
    "WaffoApiKey",
    "WaffoPrivateKey",
    "WaffoSandboxApiKey",
    "WaffoSandboxPrivateKey",
];

/// Marks a sealed value (then base64 of nonce || ciphertext, see [`crypto::seal`]).
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// Whether the option `key` holds a payment credential.
pub fn is_secret(key: &str) -> bool {
    SECRET_OPTIONS.contains(&key)
}

/// What to store for `value` under `key`: sealed for a credential (an empty value, meaning
/// "not set", stays empty), unchanged for any other option.
pub fn for_storage(encryption_secret: &str, key: &str, value: String) -> String {
    if !is_secret(key) || value.is_empty() {
        return value;
    }
    format!("{SEALED_PREFIX}{}", crypto::seal(encryption_secret, &value))
}

/// A stored credential as read back.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// Sealed, and opened with the current secret.
    Sealed(String),
    /// Stored before sealing existed: usable, to be sealed in place.
    Plain(String),
    /// Sealed under another secret, or altered: unusable.
    Unreadable,
}

/// Reads a stored credential.
pub fn open(encryption_secret: &str, stored: &str) -> Stored {
    match stored.strip_prefix(SEALED_PREFIX) {
        Some(sealed) => {
            crypto::open(encryption_secret, sealed).map_or(Stored::Unreadable, Stored::Sealed)
        }
        None => Stored::Plain(stored.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_sealed_and_opened_back() {
        let stored = for_storage("s".repeat(32).as_str(), "EpayKey", "k3y".to_string());
        assert!(stored.starts_with(SEALED_PREFIX));
        assert!(!stored.contains("k3y"));
        assert_eq!(
            open(&"s".repeat(32), &stored),
            Stored::Sealed("k3y".to_string())
        );
        assert_eq!(open(&"t".repeat(32), &stored), Stored::Unreadable);
        assert_eq!(open("x", "legacy"), Stored::Plain("legacy".to_string()));
    }

    #[test]
    fn other_options_and_empty_values_stay_as_they_are() {
        assert_eq!(for_storage("s", "SystemName", "Pylon".into()), "Pylon");
        assert_eq!(for_storage("s", "EpayKey", String::new()), "");
        assert!(SECRET_OPTIONS.iter().all(|key| is_secret(key)));
        assert!(!is_secret("EpayId"));
    }
}
