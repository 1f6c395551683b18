//! Waffo (new-api's global card and wallet gateway, through Waffo's `waffo-go` SDK): orders
//! are created by `POST {base}/order/create` with the merchant's API key in `X-API-KEY` and
//! the body signed in `X-SIGNATURE`; Waffo's answers and its webhook notifications are signed
//! in `X-SIGNATURE` by Waffo's key, and the merchant answers a notification with a body it signs
//! itself. Every signature is SHA256withRSA (RSASSA-PKCS1-v1_5) over the exact body bytes,
//! base64. Keys are configured as the SDK takes them: the merchant's private key as base64 of
//! its PKCS#8 DER, Waffo's public key as base64 of its X.509 SubjectPublicKeyInfo DER (PEM text
//! is accepted too).
//!
//! Amounts travel as decimal strings in the order's currency (`"10.00"`, or `"1000"` for a
//! currency without minor units); Pylon keeps them in hundredths ([`Cents`]) and compares them
//! exactly.

use super::money::{Cents, MoneyError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use rsa;

/// Waffo's production API.
pub const PRODUCTION_API_BASE: &str = "https://api.waffo.com/api/v1";
/// Waffo's sandbox API (new-api's `WaffoSandbox`).
pub const SANDBOX_API_BASE: &str = "https://api-sandbox.waffo.com/api/v1";
/// Where orders are created, below the API base.
pub const CREATE_ORDER_PATH: &str = "/order/create";
/// The merchant's API key on a request.
pub const HEADER_API_KEY: &str = "X-API-KEY";
/// The signature of a request, an answer, a notification or the answer to one.
pub const HEADER_SIGNATURE: &str = "X-SIGNATURE";
/// The API version a request is written for.
pub const HEADER_API_VERSION: &str = "X-API-VERSION";
/// The version the SDK sends.
pub const API_VERSION: &str = "1.0.0";
/// The code of a successful answer.
pub const CODE_SUCCESS: &str = "0";
/// The notification of an order's payment (or failure).
pub const EVENT_PAYMENT: &str = "PAYMENT_NOTIFICATION";
/// The status of a paid order.
pub const ORDER_PAY_SUCCESS: &str = "PAY_SUCCESS";
/// new-api's default `WaffoPayMethods`: cards, Apple Pay and Google Pay.
pub const DEFAULT_PAY_METHODS: &str = r#"[{"name":"Card","icon":"/pay-card.png","payMethodType":"CREDITCARD,DEBITCARD","payMethodName":""},{"name":"Apple Pay","icon":"/pay-apple.png","payMethodType":"APPLEPAY","payMethodName":"APPLEPAY"},{"name":"Google Pay","icon":"/pay-google.png","payMethodType":"GOOGLEPAY","payMethodName":"GOOGLEPAY"}]"#;

/// One way to pay the operator offers (`WaffoPayMethods`): a client picks one by its index,
/// so that it cannot send Waffo a method of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayMethod {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub icon: String,
    /// Waffo's method type, possibly several comma separated (`CREDITCARD,DEBITCARD`).
    #[serde(default)]
    pub pay_method_type: String,
    /// Waffo's method name; empty lets the checkout choose.
    #[serde(default)]
    pub pay_method_name: String,
}

/// Reads `WaffoPayMethods`; new-api's default list when it is unset or not a JSON list.
pub fn parse_pay_methods(text: &str) -> Vec<PayMethod> {
    let text = text.trim();
    let parsed = (!text.is_empty())
        .then(|| serde_json::from_str::<Vec<PayMethod>>(text).ok())
        .flatten();
    parsed.unwrap_or_else(|| serde_json::from_str(DEFAULT_PAY_METHODS).unwrap_or_default())
}

/// Currencies without minor units: their amounts carry no decimals.
pub const ZERO_DECIMAL_CURRENCIES: [&str; 4] = ["IDR", "JPY", "KRW", "VND"];

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaffoError {
    #[error("the private key is not a base64 (or PEM) PKCS#8 RSA key")]
    BadPrivateKey,
    #[error("the public key is not a base64 (or PEM) X.509 RSA public key")]
    BadPublicKey,
    #[error("signing failed")]
    Signing,
    #[error("the signature does not verify")]
    BadSignature,
}

/// Reads the merchant's private key: base64 of PKCS#8 DER (as Waffo's dashboard gives it), or
/// PKCS#8 PEM.
pub fn private_key(text: &str) -> Result<RsaPrivateKey, WaffoError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return RsaPrivateKey::from_pkcs8_pem(text).map_err(|_| WaffoError::BadPrivateKey);
    }
    let der = decode_base64(text).ok_or(WaffoError::BadPrivateKey)?;
    RsaPrivateKey::from_pkcs8_der(&der).map_err(|_| WaffoError::BadPrivateKey)
}

/// Reads Waffo's public key: base64 of X.509 SubjectPublicKeyInfo DER, or its PEM.
pub fn public_key(text: &str) -> Result<RsaPublicKey, WaffoError> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return RsaPublicKey::from_public_key_pem(text).map_err(|_| WaffoError::BadPublicKey);
    }
    let der = decode_base64(text).ok_or(WaffoError::BadPublicKey)?;
    RsaPublicKey::from_public_key_der(&der).map_err(|_| WaffoError::BadPublicKey)
}

/// Base64 with any line breaks or spaces an operator pasted removed.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    BASE64.decode(compact).ok()
}

/// The base64 SHA256withRSA signature of `body`.
pub fn sign(key: &RsaPrivateKey, body: &[u8]) -> Result<String, WaffoError> {
    let digest = Sha256::digest(body);
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
        .map(|signature| BASE64.encode(signature))
        .map_err(|_| WaffoError::Signing)
}

/// Checks a base64 SHA256withRSA `signature` of `body`.
pub fn verify(key: &RsaPublicKey, body: &[u8], signature: &str) -> Result<(), WaffoError> {
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| WaffoError::BadSignature)?;
    let digest = Sha256::digest(body);
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .map_err(|_| WaffoError::BadSignature)
}

/// Whether `currency` has no minor units.
pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL_CURRENCIES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(currency))
}

/// What is charged for a price of `money` in `currency`: the price itself, or for a currency
/// without minor units the price rounded half up to a whole unit.
pub fn charge(money: Cents, currency: &str) -> Cents {
    if is_zero_decimal(currency) {
        Cents((money.0 + 50) / 100 * 100)
    } else {
        money
    }
}

/// An amount as Waffo takes it: two decimals, or none for a currency without minor units.
pub fn format_amount(amount: Cents, currency: &str) -> String {
    if is_zero_decimal(currency) {
        (amount.0 / 100).to_string()
    } else {
        amount.to_decimal_string()
    }
}

/// An amount as Waffo reports it, read exactly.
pub fn parse_amount(text: &str) -> Result<Cents, MoneyError> {
    Cents::parse(text)
}

/// The body of `POST /order/create` (the SDK's `CreateOrderParams`, the fields new-api sets).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrder<'a> {
    pub payment_request_id: &'a str,
    pub merchant_order_id: &'a str,
    pub order_currency: &'a str,
    pub order_amount: String,
    pub order_description: String,
    /// UTC, `2006-01-02T15:04:05.000Z`.
    pub order_requested_at: String,
    pub success_redirect_url: &'a str,
    pub failed_redirect_url: &'a str,
    pub notify_url: &'a str,
    pub merchant_info: MerchantInfo<'a>,
    pub user_info: UserInfo,
    pub payment_info: PaymentInfo<'a>,
}

/// The merchant an order is for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantInfo<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub merchant_id: &'a str,
}

/// The payer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub user_id: String,
    pub user_email: String,
    pub user_terminal: &'static str,
}

/// How the order is paid; empty method fields let Waffo's checkout choose.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentInfo<'a> {
    pub product_name: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub pay_method_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub pay_method_name: &'a str,
}

/// The product name of a one-time payment.
pub const ONE_TIME_PAYMENT: &str = "ONE_TIME_PAYMENT";

/// The address the payer is sent to, from a created order's `orderAction` (a JSON text): the
/// deep link of a `DEEPLINK` action, else the web address; `None` when there is neither.
pub fn redirect_url(order_action: &str) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Action {
        #[serde(default)]
        action_type: String,
        #[serde(default)]
        web_url: String,
        #[serde(default)]
        deeplink_url: String,
    }
    let action: Action = serde_json::from_str(order_action).ok()?;
    let url = if action.action_type == "DEEPLINK" && !action.deeplink_url.is_empty() {
        action.deeplink_url
    } else {
        action.web_url
    };
    (!url.is_empty()).then_some(url)
}

/// The result of a payment notification (the SDK's `PaymentNotificationResult`, the fields a
/// credit checks).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResult {
    #[serde(default)]
    pub payment_request_id: String,
    #[serde(default)]
    pub merchant_order_id: String,
    #[serde(default)]
    pub acquiring_order_id: String,
    #[serde(default)]
    pub order_status: String,
    #[serde(default)]
    pub order_currency: String,
    #[serde(default)]
    pub order_amount: String,
    #[serde(default)]
    pub merchant_info: NotifiedMerchant,
}

/// The merchant a notification is for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedMerchant {
    #[serde(default)]
    pub merchant_id: String,
}

/// A notification: its event type, and its result when it is a payment's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(default)]
    pub event_type: String,
    #[serde(default)]
    pub result: Option<PaymentResult>,
}

/// The body of the merchant's answer to a notification: `{"message":"success"}` when it is
/// handled, `{"message":"failed"}` when Waffo should deliver it again or look into it.
pub fn answer_body(success: bool) -> String {
    let message = if success { "success" } else { "failed" };
    serde_json::json!({ "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    fn keys() -> (RsaPrivateKey, RsaPublicKey) {
        let mut rng = rsa::rand_core::OsRng;
        let private = RsaPrivateKey::new(&mut rng, 1024).expect("key");
        let public = private.to_public_key();
        (private, public)
    }

    #[test]
    fn signatures_cover_the_exact_body() {
        let (private, public) = keys();
        let body = br#"{"eventType":"PAYMENT_NOTIFICATION"}"#;
        let signature = sign(&private, body).expect("sign");
        assert_eq!(verify(&public, body, &signature), Ok(()));
        assert_eq!(
            verify(
                &public,
                br#"{"eventType":"PAYMENT_NOTIFICATION" }"#,
                &signature
            ),
            Err(WaffoError::BadSignature)
        );
        assert_eq!(
            verify(&public, body, "not base64!"),
            Err(WaffoError::BadSignature)
        );
        let (_, other) = keys();
        assert_eq!(
            verify(&other, body, &signature),
            Err(WaffoError::BadSignature)
        );
    }

    #[test]
    fn keys_are_read_as_base64_der_or_pem() {
        let (private, public) = keys();
        let private_der = BASE64.encode(private.to_pkcs8_der().expect("der").as_bytes());
        let public_der = BASE64.encode(public.to_public_key_der().expect("der").as_bytes());
        assert_eq!(private_key(&private_der), Ok(private.clone()));
        assert_eq!(public_key(&public_der), Ok(public.clone()));
        // Pasted with line breaks.
        let wrapped: String = public_der
            .as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(public_key(&wrapped), Ok(public.clone()));
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let public_pem = public.to_public_key_pem(LineEnding::LF).expect("pem");
        assert_eq!(private_key(&private_pem), Ok(private));
        assert_eq!(public_key(&public_pem), Ok(public));
        assert_eq!(private_key("nope"), Err(WaffoError::BadPrivateKey));
        assert_eq!(public_key(&private_der), Err(WaffoError::BadPublicKey));
        assert_eq!(private_key(""), Err(WaffoError::BadPrivateKey));
    }

    #[test]
    fn amounts_follow_the_currency() {
        assert_eq!(format_amount(Cents(1050), "USD"), "10.50");
        assert_eq!(format_amount(Cents(7), "usd"), "0.07");
        assert_eq!(charge(Cents(123_449), "JPY"), Cents(123_400));
        assert_eq!(charge(Cents(123_450), "JPY"), Cents(123_500));
        assert_eq!(charge(Cents(123_449), "USD"), Cents(123_449));
        assert_eq!(format_amount(Cents(123_500), "JPY"), "1235");
        assert_eq!(parse_amount("1235"), Ok(Cents(123_500)));
        assert_eq!(parse_amount("10.50"), Ok(Cents(1050)));
        assert!(parse_amount("10.501").is_err());
        assert!(parse_amount("-1").is_err());
    }

    #[test]
    fn the_redirect_is_read_from_the_order_action() {
        let web = r#"{"actionType":"WEB","webUrl":"https://pay.waffo.com/c/1"}"#;
        assert_eq!(
            redirect_url(web).as_deref(),
            Some("https://pay.waffo.com/c/1")
        );
        let deeplink = r#"{"actionType":"DEEPLINK","webUrl":"https://w","deeplinkUrl":"app://d"}"#;
        assert_eq!(redirect_url(deeplink).as_deref(), Some("app://d"));
        assert_eq!(redirect_url("{}"), None);
        assert_eq!(redirect_url("https://not-json"), None);
    }

    #[test]
    fn create_order_bodies_use_waffos_field_names() {
        let order = CreateOrder {
            payment_request_id: "WAFFO-1",
            merchant_order_id: "WAFFO-1",
            order_currency: "USD",
            order_amount: "10.00".into(),
            order_description: "Recharge 10 credits".into(),
            order_requested_at: "2026-01-02T03:04:05.000Z".into(),
            success_redirect_url: "https://site/console/topup",
            failed_redirect_url: "https://site/console/topup",
            notify_url: "https://site/api/waffo/webhook",
            merchant_info: MerchantInfo { merchant_id: "" },
            user_info: UserInfo {
                user_id: "7".into(),
                user_email: "7@examples.com".into(),
                user_terminal: "WEB",
            },
            payment_info: PaymentInfo {
                product_name: ONE_TIME_PAYMENT,
                pay_method_type: "APPLEPAY",
                pay_method_name: "",
            },
        };
        let value = serde_json::to_value(&order).expect("json");
        assert_eq!(value["merchantOrderId"], "WAFFO-1");
        assert_eq!(value["orderAmount"], "10.00");
        assert_eq!(value["notifyUrl"], "https://site/api/waffo/webhook");
        assert_eq!(value["merchantInfo"], serde_json::json!({}));
        assert_eq!(value["userInfo"]["userTerminal"], "WEB");
        assert_eq!(value["paymentInfo"]["payMethodType"], "APPLEPAY");
        assert!(value["paymentInfo"].get("payMethodName").is_none());
    }

    #[test]
    fn pay_methods_default_to_new_apis() {
        let defaults = parse_pay_methods("");
        assert_eq!(defaults.len(), 3);
        assert_eq!(defaults[0].pay_method_type, "CREDITCARD,DEBITCARD");
        assert_eq!(defaults[1].pay_method_name, "APPLEPAY");
        assert_eq!(parse_pay_methods("{broken"), defaults);
        let custom = parse_pay_methods(
            r#"[{"name":"PayPal","payMethodType":"EWALLET","payMethodName":"PAYPAL"}]"#,
        );
        assert_eq!(custom.len(), 1);
        assert_eq!(custom[0].pay_method_name, "PAYPAL");
        assert_eq!(custom[0].icon, "");
    }

    #[test]
    fn notifications_and_answers() {
        let body = r#"{"eventType":"PAYMENT_NOTIFICATION","result":{"merchantOrderId":"W-1",
            "orderStatus":"PAY_SUCCESS","orderAmount":"10.00","orderCurrency":"USD",
            "merchantInfo":{"merchantId":"M1"},"extra":1}}"#;
        let notification: Notification = serde_json::from_str(body).expect("json");
        let result = notification.result.expect("result");
        assert_eq!(notification.event_type, EVENT_PAYMENT);
        assert_eq!(result.merchant_order_id, "W-1");
        assert_eq!(result.merchant_info.merchant_id, "M1");
        assert_eq!(answer_body(true), r#"{"message":"success"}"#);
        assert_eq!(answer_body(false), r#"{"message":"failed"}"#);
    }
}
