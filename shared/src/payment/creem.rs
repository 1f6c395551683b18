//! Creem: checkouts are created by product through its API (`x-api-key`), and its webhooks
//! carry `creem-signature`, the hex HMAC-SHA256 of the raw body under the webhook secret.

use super::hmac_sha256_hex;
use crate::crypto::constant_time_eq;

/// The header carrying a webhook's signature.
pub const SIGNATURE_HEADER: &str = "creem-signature";

/// The signature Creem puts on `payload`.
pub fn signature(payload: &[u8], secret: &str) -> String {
    hmac_sha256_hex(secret.as_bytes(), payload)
}

/// Whether `given` is the signature of `payload` under `secret` (constant time).
pub fn verify_webhook(payload: &[u8], given: &str, secret: &str) -> bool {
    !secret.is_empty()
        && constant_time_eq(
            given.trim().to_ascii_lowercase().as_bytes(),
            signature(payload, secret).as_bytes(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_the_body() {
        let body = br#"{"eventType":"checkout.completed"}"#;
        let sig = signature(body, "whsec");
        assert_eq!(sig, hmac_sha256_hex(b"whsec", body));
        assert!(verify_webhook(body, &sig, "whsec"));
        assert!(verify_webhook(body, &sig.to_uppercase(), "whsec"));
        assert!(!verify_webhook(body, &sig, "other"));
        assert!(!verify_webhook(b"{}", &sig, "whsec"));
        assert!(!verify_webhook(body, &sig, ""));
    }
}
