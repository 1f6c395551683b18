//! Stripe: the Checkout Session request (form-encoded, as Stripe's API takes it) and the
//! webhook signature. A webhook carries `Stripe-Signature: t=<unix time>,v1=<hex>`, where each
//! `v1` is the HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's signing secret; an event
//! older or newer than the tolerance is refused, so a captured event cannot be replayed later.

use super::hmac_sha256_hex;
use crate::crypto::constant_time_eq;

/// Stripe's default tolerance for webhook timestamps, in seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The header carrying a webhook's signature.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    #[error("the webhook's timestamp is outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks `header` (the `Stripe-Signature` value) against `payload` and `secret` at `now`.
pub fn verify_webhook(
    payload: &[u8],
    header: &str,
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = signature(payload, secret, timestamp);
    if !signatures
        .iter()
        .any(|given| constant_time_eq(given.as_bytes(), expected.as_bytes()))
    {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

/// The `v1` signature of `payload` at `timestamp`.
pub fn signature(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(payload);
    hmac_sha256_hex(secret.as_bytes(), &message)
}

/// A complete `Stripe-Signature` header for `payload` (what Stripe sends; for tests and mocks).
pub fn signature_header(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!("t={timestamp},v1={}", signature(payload, secret, timestamp))
}

/// A Checkout Session to create for one top-up.
#[derive(Debug, Clone)]
pub struct CheckoutSession<'a> {
    /// Our order number, returned in the webhook as `client_reference_id`.
    pub reference_id: &'a str,
    /// The configured Stripe price (one unit of top-up).
    pub price_id: &'a str,
    /// How many units.
    pub quantity: i64,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    /// The user's Stripe customer, if known; otherwise their email, if any.
    pub customer: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub allow_promotion_codes: bool,
}

/// The form fields of `POST /v1/checkout/sessions`, as new-api sends them.
pub fn checkout_session_form(session: &CheckoutSession<'_>) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("client_reference_id".into(), session.reference_id.into()),
        ("success_url".into(), session.success_url.into()),
        ("cancel_url".into(), session.cancel_url.into()),
        ("line_items[0][price]".into(), session.price_id.into()),
        (
            "line_items[0][quantity]".into(),
            session.quantity.to_string(),
        ),
    ];
    match (session.customer, session.customer_email) {
        (Some(customer), _) if !customer.is_empty() => {
            form.push(("customer".into(), customer.into()));
        }
        (_, Some(email)) if !email.is_empty() => {
            form.push(("customer_email".into(), email.into()));
            form.push(("customer_creation".into(), "always".into()));
        }
        _ => form.push(("customer_creation".into(), "always".into())),
    }
    if session.allow_promotion_codes {
        form.push(("allow_promotion_codes".into(), "true".into()));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signed_event_verifies_within_the_tolerance_only() {
        let payload = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let header = signature_header(payload, SECRET, 1_700_000_000);
        assert_eq!(
            verify_webhook(payload, &header, SECRET, 1_700_000_100, 300),
            Ok(())
        );
        assert_eq!(
            verify_webhook(payload, &header, SECRET, 1_700_000_301, 300),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify_webhook(payload, &header, "whsec_other", 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        let tampered = br#"{"id":"evt_2","type":"checkout.session.completed"}"#;
        assert_eq!(
            verify_webhook(tampered, &header, SECRET, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(payload, "v1=abc", SECRET, 1_700_000_000, 300),
            Err(SignatureError::Malformed)
        );
        // Several v1 signatures (a rolled secret): one match is enough.
        let rolled = format!("t=1700000000,v1=00ff,{}", &header[13..]);
        assert_eq!(
            verify_webhook(payload, &rolled, SECRET, 1_700_000_000, 300),
            Ok(())
        );
    }

    #[test]
    fn checkout_form_carries_reference_price_and_quantity() {
        let form = checkout_session_form(&CheckoutSession {
            reference_id: "ref_1",
            price_id: "price_123",
            quantity: 10,
            success_url: "https://pylon.example/ok",
            cancel_url: "https://pylon.example/cancel",
            customer: None,
            customer_email: Some("a@b.c"),
            allow_promotion_codes: true,
        });
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("client_reference_id"), Some("ref_1"));
        assert_eq!(get("line_items[0][price]"), Some("price_123"));
        assert_eq!(get("line_items[0][quantity]"), Some("10"));
        assert_eq!(get("mode"), Some("payment"));
        assert_eq!(get("customer_email"), Some("a@b.c"));
        assert_eq!(get("allow_promotion_codes"), Some("true"));
    }
}
