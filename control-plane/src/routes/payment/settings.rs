//! The payment settings as the operator configured them, in new-api's option names: EPay
//! (`PayAddress`, `EpayId`, `EpayKey`, `PayMethods`), prices (`Price`, `MinTopUp`,
//! `TopupGroupRatio`, `payment_setting.amount_options`, `payment_setting.amount_discount`),
//! Stripe (`StripeApiSecret`, `StripeWebhookSecret`, `StripePriceId`, `StripeUnitPrice`,
//! `StripeMinTopUp`, `StripePromotionCodesEnabled`) and the callback address
//! (`CustomCallbackAddress`, else `ServerAddress`); seed 004's channel routes add
//! `EpayChannelName` and `EpayChannelEnabled`. Secrets (names ending in `Key` or `Secret`)
//! are never returned by `GET /api/option/`.
//!
//! Creem (`CreemApiKey`, `CreemWebhookSecret`, `CreemProducts`, `CreemTestMode`), WeChat Pay
//! (`WechatPayAppId`, `WechatPayMchId`, `WechatPaySerialNo`, `WechatPayPrivateKey`,
//! `WechatPayApiV3Key`, `WechatPayPlatformPublicKey`), how long an order waits for its payment
//! (`payment_setting.order_expire_minutes`, default 30) and the inviter's share of each paid
//! top-up (`ReferralCommissionRate`, default 0: none).
//!
//! Waffo (`WaffoEnabled`, `WaffoSandbox`, and for each of production and sandbox an API key,
//! the merchant's private key and Waffo's public key: `WaffoApiKey`, `WaffoPrivateKey`,
//! `WaffoPublicCert`, `WaffoSandboxApiKey`, `WaffoSandboxPrivateKey`, `WaffoSandboxPublicCert`;
//! `WaffoMerchantId`, `WaffoNotifyUrl`, `WaffoReturnUrl`, `WaffoCurrency` (default USD),
//! `WaffoUnitPrice` (default 1), `WaffoMinTopUp` (default 1), `WaffoPayMethods`).
//!
//! Pylon adds `StripeApiBaseUrl`, `CreemApiBaseUrl`, `WechatPayApiBaseUrl` and `WaffoApiBaseUrl`
//! (default: the gateway's own API), so that a test or a proxy can stand in for a gateway's API,
//! and `StripeCurrency` (default `usd`), the currency of `StripePriceId`, which a paid session
//! must report.

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::{CompletionRules, now_secs};
use pylon_shared::payment::creem;
use pylon_shared::payment::money::Decimal6;
use pylon_shared::payment::secret_options::{self, Stored};
use pylon_shared::payment::waffo;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// new-api's default price of one unit (USD) in the EPay currency.
const DEFAULT_PRICE: &str = "7.3";
/// new-api's default Stripe price of one unit.
const DEFAULT_STRIPE_UNIT_PRICE: &str = "8.0";
const DEFAULT_STRIPE_API: &str = "https://api.stripe.com";
const DEFAULT_WECHAT_API: &str = "https://api.mch.weixin.qq.com";
/// How long an order waits for its payment when the operator did not say.
const DEFAULT_ORDER_EXPIRE_MINUTES: i64 = 30;

/// One payment method offered through EPay.
pub type PayMethod = BTreeMap<String, String>;

/// Every payment option.
pub struct PaymentSettings {
    pub pay_address: String,
    pub epay_id: String,
    pub epay_key: String,
    /// Off only when an administrator disabled the channel (seed 004's channel `status` 0,
    /// option `EpayChannelEnabled`); new-api has no such switch.
    pub epay_switched_on: bool,
    /// The channel's display name (seed 004, option `EpayChannelName`).
    pub epay_channel_name: String,
    pub pay_methods: Vec<PayMethod>,
    pub price: Decimal6,
    pub min_topup: i64,
    pub group_ratios: HashMap<String, Decimal6>,
    pub amount_options: Vec<i64>,
    pub amount_discount: BTreeMap<i64, Decimal6>,
    pub callback_address: String,
    pub server_address: String,
    pub stripe_api_secret: String,
    pub stripe_webhook_secret: String,
    pub stripe_price_id: String,
    pub stripe_unit_price: Decimal6,
    pub stripe_min_topup: i64,
    pub stripe_promotion_codes: bool,
    pub stripe_api_base: String,
    /// The currency of the Stripe price (lower case), which the webhook must report.
    pub stripe_currency: String,
    pub quota_per_unit: i64,
    pub creem_api_key: String,
    pub creem_webhook_secret: String,
    pub creem_products: Vec<creem::Product>,
    pub creem_api_base: String,
    pub wechat: WechatSettings,
    pub waffo: WaffoSettings,
    /// Seconds a pending order waits for its payment before it expires.
    pub order_expire_secs: i64,
    /// The inviter's share of each paid top-up of an invitee (0: no commission).
    pub commission_rate: Decimal6,
}

/// WeChat Pay's merchant settings.
pub struct WechatSettings {
    pub app_id: String,
    pub mch_id: String,
    /// The serial number of the merchant's API certificate.
    pub serial_no: String,
    /// The merchant's PKCS#8 PEM private key.
    pub private_key: String,
    pub api_v3_key: String,
    /// WeChat Pay's platform public key (PEM), which signs its notifications.
    pub platform_public_key: String,
    pub api_base: String,
}

impl WechatSettings {
    /// Whether every setting needed to take a payment is there.
    pub fn enabled(&self) -> bool {
        [
            &self.app_id,
            &self.mch_id,
            &self.serial_no,
            &self.private_key,
            &self.api_v3_key,
            &self.platform_public_key,
        ]
        .iter()
        .all(|v| !v.is_empty())
    }
}

/// Waffo's settings, for the environment in force (production, or sandbox when
/// `WaffoSandbox` is on).
pub struct WaffoSettings {
    /// `WaffoEnabled`: whether new orders may be paid through Waffo. Notifications of orders
    /// already placed are still credited while it is off, as in new-api.
    pub switched_on: bool,
    pub api_key: String,
    /// The merchant's private key (base64 PKCS#8, or PEM).
    pub private_key: String,
    /// Waffo's public key (base64 X.509, or PEM), which signs its answers and notifications.
    pub public_key: String,
    /// Empty: not sent, and not checked on notifications.
    pub merchant_id: String,
    /// Where Waffo notifies payments (`WaffoNotifyUrl`, else the callback address's
    /// `/api/waffo/webhook`; empty when neither is set).
    pub notify_url: String,
    /// Where the payer returns (`WaffoReturnUrl`, else the site's top-up history).
    pub return_url: String,
    /// Upper case (`USD`).
    pub currency: String,
    pub unit_price: Decimal6,
    pub min_topup: i64,
    pub pay_methods: Vec<waffo::PayMethod>,
    pub api_base: String,
}

impl WaffoSettings {
    /// Whether the keys of the environment in force are all set (enough to verify and answer
    /// a notification).
    pub fn configured(&self) -> bool {
        !self.api_key.is_empty() && !self.private_key.is_empty() && !self.public_key.is_empty()
    }

    /// Whether top-ups through Waffo are offered.
    pub fn enabled(&self) -> bool {
        self.switched_on && self.configured()
    }

    fn load(text: &dyn Fn(&str) -> String, callback_address: &str, server_address: &str) -> Self {
        let sandbox = text("WaffoSandbox") == "true";
        let pick = |production: &str, test: &str| text(if sandbox { test } else { production });
        let notify_url = match text("WaffoNotifyUrl") {
            url if !url.is_empty() => url,
            _ if callback_address.is_empty() => String::new(),
            _ => format!("{callback_address}/api/waffo/webhook"),
        };
        let return_url = match text("WaffoReturnUrl") {
            url if !url.is_empty() => url,
            _ => format!("{server_address}/console/topup?show_history=true"),
        };
        let api_base = match text("WaffoApiBaseUrl") {
            base if !base.is_empty() => base.trim_end_matches('/').to_string(),
            _ if sandbox => waffo::SANDBOX_API_BASE.to_string(),
            _ => waffo::PRODUCTION_API_BASE.to_string(),
        };
        Self {
            switched_on: text("WaffoEnabled") == "true",
            api_key: pick("WaffoApiKey", "WaffoSandboxApiKey"),
            private_key: pick("WaffoPrivateKey", "WaffoSandboxPrivateKey"),
            public_key: pick("WaffoPublicCert", "WaffoSandboxPublicCert"),
            merchant_id: text("WaffoMerchantId"),
            notify_url,
            return_url,
            currency: match text("WaffoCurrency").to_ascii_uppercase() {
                currency if currency.is_empty() => "USD".to_string(),
                currency => currency,
            },
            unit_price: Decimal6::parse(&text("WaffoUnitPrice"))
                .ok()
                .filter(|price| !price.is_zero())
                .unwrap_or(Decimal6::ONE),
            min_topup: text("WaffoMinTopUp").parse::<i64>().unwrap_or(1),
            pay_methods: waffo::parse_pay_methods(&text("WaffoPayMethods")),
            api_base,
        }
    }
}

impl PaymentSettings {
    /// Reads the current options. A malformed value falls back to its default, as in new-api
    /// (the option update route checks what it can).
    pub async fn load(app: &App) -> Result<Self, ApiError> {
        let mut options: HashMap<String, String> =
            app.db.all_options().await?.into_iter().collect();
        for key in secret_options::SECRET_OPTIONS {
            if let Some(stored) = options.get_mut(key) {
                *stored = open_credential(app, key, stored).await?;
            }
        }
        let text = |key: &str| options.get(key).map_or("", |v| v.trim()).to_string();
        let decimal = |key: &str, default: &str| {
            Decimal6::parse(&text(key))
                .or_else(|_| Decimal6::parse(default))
                .unwrap_or(Decimal6::ONE)
        };
        let int = |key: &str, default: i64| text(key).parse::<i64>().unwrap_or(default);
        let server_address = text("ServerAddress").trim_end_matches('/').to_string();
        let custom_callback = text("CustomCallbackAddress")
            .trim_end_matches('/')
            .to_string();
        let callback_address = if custom_callback.is_empty() {
            server_address.clone()
        } else {
            custom_callback
        };
        let waffo = WaffoSettings::load(&text, &callback_address, &server_address);
        let stripe_api_base = match text("StripeApiBaseUrl") {
            base if base.is_empty() => DEFAULT_STRIPE_API.to_string(),
            base => base.trim_end_matches('/').to_string(),
        };
        Ok(Self {
            pay_address: text("PayAddress").trim_end_matches('/').to_string(),
            epay_id: text("EpayId"),
            epay_key: text("EpayKey"),
            epay_switched_on: text("EpayChannelEnabled") != "false",
            epay_channel_name: text("EpayChannelName"),
            pay_methods: parse_pay_methods(&text("PayMethods")),
            price: decimal("Price", DEFAULT_PRICE),
            min_topup: int("MinTopUp", 1),
            group_ratios: parse_decimal_map(&text("TopupGroupRatio")),
            amount_options: serde_json::from_str(&text("payment_setting.amount_options"))
                .unwrap_or_default(),
            amount_discount: parse_decimal_map(&text("payment_setting.amount_discount"))
                .into_iter()
                .filter_map(|(k, v)| k.parse::<i64>().ok().map(|k| (k, v)))
                .collect(),
            callback_address,
            server_address,
            stripe_api_secret: text("StripeApiSecret"),
            stripe_webhook_secret: text("StripeWebhookSecret"),
            stripe_price_id: text("StripePriceId"),
            stripe_unit_price: decimal("StripeUnitPrice", DEFAULT_STRIPE_UNIT_PRICE),
            stripe_min_topup: int("StripeMinTopUp", 1),
            stripe_promotion_codes: text("StripePromotionCodesEnabled") == "true",
            stripe_api_base,
            stripe_currency: match text("StripeCurrency").to_ascii_lowercase() {
                currency if currency.is_empty() => "usd".to_string(),
                currency => currency,
            },
            quota_per_unit: text("QuotaPerUnit")
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 1)
                .unwrap_or(pylon_shared::roles::QUOTA_PER_UNIT),
            creem_api_key: text("CreemApiKey"),
            creem_webhook_secret: text("CreemWebhookSecret"),
            creem_products: creem::parse_products(&text("CreemProducts")),
            creem_api_base: match text("CreemApiBaseUrl") {
                base if !base.is_empty() => base.trim_end_matches('/').to_string(),
                _ if text("CreemTestMode") == "true" => creem::TEST_API_BASE.to_string(),
                _ => creem::API_BASE.to_string(),
            },
            wechat: WechatSettings {
                app_id: text("WechatPayAppId"),
                mch_id: text("WechatPayMchId"),
                serial_no: text("WechatPaySerialNo"),
                private_key: text("WechatPayPrivateKey"),
                api_v3_key: text("WechatPayApiV3Key"),
                platform_public_key: text("WechatPayPlatformPublicKey"),
                api_base: match text("WechatPayApiBaseUrl") {
                    base if base.is_empty() => DEFAULT_WECHAT_API.to_string(),
                    base => base.trim_end_matches('/').to_string(),
                },
            },
            waffo,
            order_expire_secs: int(
                "payment_setting.order_expire_minutes",
                DEFAULT_ORDER_EXPIRE_MINUTES,
            )
            .clamp(1, 60 * 24 * 30)
                * 60,
            commission_rate: Decimal6::parse(&text("ReferralCommissionRate"))
                .ok()
                .filter(|rate| *rate <= Decimal6::ONE)
                .unwrap_or(Decimal6::ZERO),
        })
    }

    /// Whether EPay top-up is configured (new-api: address, merchant id and key set).
    pub fn epay_enabled(&self) -> bool {
        self.epay_switched_on
            && !self.pay_address.is_empty()
            && !self.epay_id.is_empty()
            && !self.epay_key.is_empty()
    }

    /// Whether Stripe top-up is configured.
    pub fn stripe_enabled(&self) -> bool {
        self.stripe_configured() && !self.stripe_price_id.is_empty()
    }

    /// Whether Stripe's API and webhook can be used at all (subscription plans carry their own
    /// price ids).
    pub fn stripe_configured(&self) -> bool {
        !self.stripe_api_secret.is_empty() && !self.stripe_webhook_secret.is_empty()
    }

    /// The rules a completion follows: a gateway pays only orders still in their time; an
    /// administrator (`admin`) any pending or expired one.
    pub fn completion_rules(&self, admin: bool) -> CompletionRules {
        CompletionRules {
            created_after: (!admin).then(|| now_secs() - self.order_expire_secs),
            commission_rate: self.commission_rate,
        }
    }

    /// Whether Creem top-up is configured.
    pub fn creem_enabled(&self) -> bool {
        self.creem_configured() && !self.creem_products.is_empty()
    }

    /// Whether Creem's API and webhook can be used at all (subscription plans carry their own
    /// product ids).
    pub fn creem_configured(&self) -> bool {
        !self.creem_api_key.is_empty() && !self.creem_webhook_secret.is_empty()
    }

    /// The top-up price ratio of `group` (1 when not configured or zero).
    pub fn group_ratio(&self, group: &str) -> Decimal6 {
        self.group_ratios
            .get(group)
            .copied()
            .filter(|r| !r.is_zero())
            .unwrap_or(Decimal6::ONE)
    }

    /// The discount for topping up exactly `amount` units (1 when none is configured).
    pub fn discount(&self, amount: i64) -> Decimal6 {
        self.amount_discount
            .get(&amount)
            .copied()
            .filter(|d| !d.is_zero())
            .unwrap_or(Decimal6::ONE)
    }

    /// Whether `method` is one of the EPay methods offered.
    pub fn has_pay_method(&self, method: &str) -> bool {
        self.pay_methods
            .iter()
            .any(|m| m.get("type").is_some_and(|t| t == method))
    }
}

/// What to store for the option `key` set to `value` through `PUT /api/option/`: a payment
/// credential sealed with the key encryption secret, any other value as it is.
pub fn option_for_storage(app: &App, key: &str, value: String) -> String {
    secret_options::for_storage(&app.secrets.key_encryption, key, value)
}

/// The usable value of the stored credential `key`. A plaintext one (stored before credentials
/// were sealed) is sealed in place, unless it changed meanwhile; one that does not open (the
/// key encryption secret changed) counts as not set.
async fn open_credential(app: &App, key: &str, stored: &str) -> Result<String, ApiError> {
    match secret_options::open(&app.secrets.key_encryption, stored) {
        Stored::Sealed(value) => Ok(value),
        Stored::Plain(value) if value.is_empty() => Ok(value),
        Stored::Plain(value) => {
            let sealed = option_for_storage(app, key, value.clone());
            if app.db.replace_option_if(key, stored, &sealed).await? {
                tracing::info!(%key, "plaintext payment credential sealed in place");
            }
            Ok(value)
        }
        Stored::Unreadable => {
            tracing::warn!(
                %key,
                "payment credential cannot be decrypted; was security.key_encryption_secret changed?"
            );
            Ok(String::new())
        }
    }
}

/// new-api's `PayMethods`: a JSON list of `{"name", "color", "type", ...}`; its default when
/// unset: Alipay and WeChat.
fn parse_pay_methods(text: &str) -> Vec<PayMethod> {
    let parsed: Option<Vec<BTreeMap<String, Value>>> = serde_json::from_str(text).ok();
    match parsed {
        Some(methods) => methods
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect()
            })
            .collect(),
        None => [
            ("支付宝", "alipay", "rgba(var(--semi-blue-5), 1)"),
            ("微信", "wxpay", "rgba(var(--semi-green-5), 1)"),
        ]
        .into_iter()
        .map(|(name, kind, color)| {
            [("name", name), ("type", kind), ("color", color)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect(),
    }
}

/// A JSON object of decimal numbers (`{"vip": 1.5}`), read exactly from each number's text.
fn parse_decimal_map(text: &str) -> HashMap<String, Decimal6> {
    let parsed: HashMap<String, Value> = serde_json::from_str(text).unwrap_or_default();
    parsed
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Decimal6::parse(&text).ok().map(|d| (k, d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_maps_read_each_number_exactly() {
        let map = parse_decimal_map(r#"{"default": 1, "vip": 0.95, "bad": "x", "s": "1.5"}"#);
        assert_eq!(map["default"], Decimal6::ONE);
        assert_eq!(map["vip"].to_string(), "0.95");
        assert_eq!(map["s"].to_string(), "1.5");
        assert!(!map.contains_key("bad"));
        assert!(parse_decimal_map("not json").is_empty());
    }

    #[test]
    fn pay_methods_default_to_alipay_and_wechat() {
        let methods = parse_pay_methods("");
        assert_eq!(methods.len(), 2);
        assert_eq!(methods[0]["type"], "alipay");
        let custom = parse_pay_methods(r#"[{"name":"USDT","type":"usdt","min_topup":5}]"#);
        assert_eq!(custom[0]["type"], "usdt");
        assert_eq!(custom[0]["min_topup"], "5");
    }
}
