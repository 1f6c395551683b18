//! Creem: checkouts are created by product through its API (`x-api-key`), and its webhooks
//! carry `creem-signature`, the hex HMAC-SHA256 of the raw body under the webhook secret.
//! The products on sale are configured as new-api's `CreemProducts` option.

use super::hmac_sha256_hex;
use super::money::Cents;
use crate::crypto::constant_time_eq;
use serde_json::Value;

/// Creem's API.
pub const API_BASE: &str = "https://api.creem.io";
/// Creem's test-mode API (new-api's `CreemTestMode`).
pub const TEST_API_BASE: &str = "https://test-api.creem.io";
/// Where checkouts are created, below the API base.
pub const CHECKOUTS_PATH: &str = "/v1/checkouts";
/// The event of a paid checkout.
pub const CHECKOUT_COMPLETED: &str = "checkout.completed";

/// One product on sale: its price, read exactly, and the quota it credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    /// The price in cents of `currency`.
    pub price: Cents,
    /// Upper case (`USD`).
    pub currency: String,
    pub quota: i64,
}

/// new-api's `CreemProducts`: a JSON list of `{"productId", "name", "price", "currency",
/// "quota"}`. Entries without an id, with a price that is not a positive amount of cents, or
/// with a quota below one are left out (the operator sees them missing from the page).
pub fn parse_products(text: &str) -> Vec<Product> {
    let parsed: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
    parsed.iter().filter_map(product).collect()
}

fn product(value: &Value) -> Option<Product> {
    let text = |v: &Value| match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let product_id = text(&value["productId"]);
    let price = Cents::parse(&text(&value["price"])).ok()?;
    let quota = text(&value["quota"]).parse::<i64>().ok()?;
    let currency = match text(&value["currency"]).to_ascii_uppercase() {
        c if c.is_empty() => "USD".to_string(),
        c => c,
    };
    (!product_id.is_empty() && price.0 > 0 && quota > 0).then(|| Product {
        product_id,
        name: text(&value["name"]),
        price,
        currency,
        quota,
    })
}

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

    #[test]
    fn products_are_read_exactly_and_bad_ones_left_out() {
        let products = parse_products(
            r#"[{"productId":"prod_1","name":"Ten","price":9.99,"currency":"usd","quota":5000000},
                {"productId":"prod_2","name":"Cheap","price":"0.1","quota":1},
                {"productId":"","price":1,"quota":1},
                {"productId":"prod_3","price":1.001,"quota":1},
                {"productId":"prod_4","price":1,"quota":0}]"#,
        );
        assert_eq!(products.len(), 2);
        assert_eq!(products[0].price, Cents(999));
        assert_eq!(products[0].currency, "USD");
        assert_eq!(products[0].quota, 5_000_000);
        assert_eq!(products[1].price, Cents(10));
        assert!(parse_products("not json").is_empty());
    }
}
