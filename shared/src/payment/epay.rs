//! EPay (易支付), the gateway protocol new-api speaks for Alipay and WeChat top-ups: an order
//! is a form of parameters posted to the gateway's `submit.php`, and the gateway calls back
//! with the paid order's parameters. Both directions are signed the same way: the parameters
//! other than `sign` and `sign_type`, and without empty values, sorted by name, joined as
//! `k=v&k=v`, with the merchant key appended; the signature is the lower-case hex MD5.

use crate::crypto::constant_time_eq;
use md5::{Digest, Md5};
use std::collections::BTreeMap;

/// The trade status of a paid order in a notification.
pub const TRADE_SUCCESS: &str = "TRADE_SUCCESS";

/// The path of the gateway's order form, below its base address.
pub const SUBMIT_PATH: &str = "/submit.php";

/// The MD5 signature of `params` under the merchant `key`.
pub fn sign(params: &BTreeMap<String, String>, key: &str) -> String {
    let mut text = params
        .iter()
        .filter(|(name, value)| *name != "sign" && *name != "sign_type" && !value.is_empty())
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    text.push_str(key);
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Whether `params` carry a valid `sign` under `key` (compared in constant time).
pub fn verify(params: &BTreeMap<String, String>, key: &str) -> bool {
    let Some(given) = params.get("sign") else {
        return false;
    };
    constant_time_eq(
        given.to_ascii_lowercase().as_bytes(),
        sign(params, key).as_bytes(),
    )
}

/// An order to submit to the gateway.
#[derive(Debug, Clone)]
pub struct Purchase<'a> {
    /// The merchant id (`pid`).
    pub merchant_id: &'a str,
    /// The payment type the user chose (`alipay`, `wxpay`, ...).
    pub payment_type: &'a str,
    /// Our order number (`out_trade_no`).
    pub trade_no: &'a str,
    /// The product name shown by the gateway.
    pub name: &'a str,
    /// The price, with two decimals.
    pub money: &'a str,
    pub notify_url: &'a str,
    pub return_url: &'a str,
}

/// The signed form parameters of `purchase`, as new-api's EPay client builds them.
pub fn purchase_params(purchase: &Purchase<'_>, key: &str) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = [
        ("pid", purchase.merchant_id),
        ("type", purchase.payment_type),
        ("out_trade_no", purchase.trade_no),
        ("notify_url", purchase.notify_url),
        ("return_url", purchase.return_url),
        ("name", purchase.name),
        ("money", purchase.money),
        ("device", "pc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = sign(&params, key);
    params.insert("sign".into(), signature);
    params.insert("sign_type".into(), "MD5".into());
    params
}

/// The fields of a payment notification that decide what is credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The merchant id the gateway says it paid (`pid`).
    pub merchant_id: String,
    /// The gateway's own order number (`trade_no`).
    pub gateway_trade_no: String,
    /// Our order number (`out_trade_no`).
    pub trade_no: String,
    pub payment_type: String,
    /// The paid amount as the gateway wrote it.
    pub money: String,
    pub trade_status: String,
}

impl Notification {
    /// Reads a notification whose signature has been verified.
    pub fn from_params(params: &BTreeMap<String, String>) -> Self {
        let field = |name: &str| params.get(name).cloned().unwrap_or_default();
        Self {
            merchant_id: field("pid"),
            gateway_trade_no: field("trade_no"),
            trade_no: field("out_trade_no"),
            payment_type: field("type"),
            money: field("money"),
            trade_status: field("trade_status"),
        }
    }

    /// Whether the gateway reports the order as paid.
    pub fn is_paid(&self) -> bool {
        self.trade_status == TRADE_SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn signature_is_md5_of_sorted_non_empty_params_and_key() {
        let p = params(&[
            ("pid", "1001"),
            ("type", "alipay"),
            ("money", "1.00"),
            ("empty", ""),
            ("sign_type", "MD5"),
            ("sign", "ignored"),
        ]);
        // md5("money=1.00&pid=1001&type=alipaySECRET")
        let expected = hex::encode(Md5::digest(b"money=1.00&pid=1001&type=alipaySECRET"));
        assert_eq!(sign(&p, "SECRET"), expected);
        // The well-known value of md5("") guards the digest itself.
        assert_eq!(
            hex::encode(Md5::digest(b"")),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }

    #[test]
    fn purchase_params_verify_and_tampering_is_detected() {
        let purchase = Purchase {
            merchant_id: "1001",
            payment_type: "alipay",
            trade_no: "USR1NOabc",
            name: "TUC10",
            money: "73.00",
            notify_url: "http://pylon/api/user/epay/notify",
            return_url: "http://pylon/console/log",
        };
        let mut signed = purchase_params(&purchase, "k3y");
        assert_eq!(signed["sign_type"], "MD5");
        assert!(verify(&signed, "k3y"));
        assert!(!verify(&signed, "other"));
        signed.insert("money".into(), "0.01".into());
        assert!(!verify(&signed, "k3y"));
        signed.remove("sign");
        assert!(!verify(&signed, "k3y"));
    }

    #[test]
    fn notification_fields_are_read() {
        let n = Notification::from_params(&params(&[
            ("pid", "1001"),
            ("trade_no", "2024"),
            ("out_trade_no", "USR1NOabc"),
            ("type", "wxpay"),
            ("money", "73.00"),
            ("trade_status", "TRADE_SUCCESS"),
        ]));
        assert!(n.is_paid());
        assert_eq!(n.trade_no, "USR1NOabc");
        assert_eq!(n.merchant_id, "1001");
    }
}
