//! Mock payment gateways for the payment tests, each on 127.0.0.1 and a free port, each
//! checking what a real one checks and signing exactly like it:
//!
//! - [`EpayGateway`]: the `submit.php` order form (MD5 signature under the merchant key,
//!   merchant id, amount), and signed notifications to the order's `notify_url`;
//! - [`StripeApi`]: `POST /v1/checkout/sessions` (secret key, form fields), and signed
//!   webhook events (`Stripe-Signature`) to Pylon;
//! - [`CreemApi`]: `POST /v1/checkouts` (`x-api-key`, a known product, a request id), and
//!   webhook events signed with `creem-signature` (HMAC-SHA256 of the body);
//! - [`WechatPay`]: `POST /v3/pay/transactions/native` (API v3: the merchant's RSA signature
//!   in `Authorization`, merchant, app and amount), answers signed with the platform key, and
//!   notifications signed with the platform key carrying their transaction AES-256-GCM
//!   encrypted under the API v3 key.
//!
//! Tests may also forge what a gateway would never send (a bad signature, another amount or
//! merchant) through the `*_with` builders.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::payment::{creem, epay, stripe};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Parses a form body or query string.
fn form(raw: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Starts `router` on a free port; answers its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a mock gateway");
    let base_url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    base_url
}

// ---------------------------------------------------------------------------------------------
// EPay

/// An order the EPay gateway accepted from a browser's form post.
#[derive(Debug, Clone)]
pub struct EpayOrder {
    /// Every parameter as posted.
    pub params: BTreeMap<String, String>,
    /// The gateway's own number of the order.
    pub gateway_trade_no: String,
}

impl EpayOrder {
    pub fn trade_no(&self) -> &str {
        &self.params["out_trade_no"]
    }
}

struct EpayState {
    merchant_id: String,
    key: String,
    orders: Mutex<Vec<EpayOrder>>,
    refused: Mutex<Vec<String>>,
}

/// A mock EPay gateway with one merchant.
pub struct EpayGateway {
    pub base_url: String,
    state: Arc<EpayState>,
    http: reqwest::Client,
}

impl EpayGateway {
    pub async fn start(merchant_id: &str, key: &str) -> Self {
        let state = Arc::new(EpayState {
            merchant_id: merchant_id.to_string(),
            key: key.to_string(),
            orders: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/submit.php", post(epay_submit).get(epay_submit_query))
            .with_state(Arc::clone(&state));
        Self {
            base_url: serve(router).await,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The orders accepted so far.
    /// A gateway for merchant `merchant_id` and `key`, and `pylon` pointed at it (through
    /// `root`'s console): pay address, merchant, key, Pylon's own address, CNY price 7.3.
    pub async fn configured(
        pylon: &crate::Pylon,
        root: &crate::Console,
        merchant_id: &str,
        key: &str,
    ) -> Self {
        let gateway = Self::start(merchant_id, key).await;
        for (option, value) in [
            ("PayAddress", gateway.base_url.as_str()),
            ("EpayId", merchant_id),
            ("EpayKey", key),
            ("ServerAddress", pylon.base_url.as_str()),
            ("Price", "7.3"),
        ] {
            crate::fixtures::set_option(root, option, value).await;
        }
        gateway
    }

    pub fn orders(&self) -> Vec<EpayOrder> {
        self.state.orders.lock().expect("lock").clone()
    }

    /// Why submitted forms were refused.
    pub fn refusals(&self) -> Vec<String> {
        self.state.refused.lock().expect("lock").clone()
    }

    /// Posts the form Pylon answered (`data`, to `url`) as a browser would; answers the
    /// gateway's status and text.
    pub async fn submit(&self, url: &str, params: &Value) -> (u16, String) {
        let fields: BTreeMap<String, String> = params
            .as_object()
            .expect("form parameters")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let answer = self
            .http
            .post(url)
            .form(&fields)
            .send()
            .await
            .expect("gateway reachable");
        (
            answer.status().as_u16(),
            answer.text().await.unwrap_or_default(),
        )
    }

    /// The notification the gateway sends when `order` is paid: signed, as EPay sends it.
    pub fn paid_notification(&self, order: &EpayOrder) -> BTreeMap<String, String> {
        let mut params: BTreeMap<String, String> = [
            ("pid", self.state.merchant_id.as_str()),
            ("trade_no", order.gateway_trade_no.as_str()),
            ("out_trade_no", order.trade_no()),
            ("type", order.params["type"].as_str()),
            ("name", order.params["name"].as_str()),
            ("money", order.params["money"].as_str()),
            ("trade_status", epay::TRADE_SUCCESS),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        self.sign(&mut params);
        params
    }

    /// Signs `params` with the merchant key (after a test changed them, to forge a well
    /// signed notification for another amount or merchant).
    pub fn sign(&self, params: &mut BTreeMap<String, String>) {
        params.remove("sign");
        let signature = epay::sign(params, &self.state.key);
        params.insert("sign".into(), signature);
        params.insert("sign_type".into(), "MD5".into());
    }

    /// Delivers `params` to `notify_url` (GET with a query string, or POST with a form, as
    /// gateways do both); answers Pylon's plain-text answer.
    pub async fn notify(
        &self,
        notify_url: &str,
        params: &BTreeMap<String, String>,
        post: bool,
    ) -> String {
        let request = if post {
            self.http.post(notify_url).form(params)
        } else {
            self.http.get(notify_url).query(params)
        };
        request
            .send()
            .await
            .expect("Pylon reachable")
            .text()
            .await
            .unwrap_or_default()
    }
}

async fn epay_submit(State(state): State<Arc<EpayState>>, body: Bytes) -> Response {
    accept_order(&state, form(&body))
}

async fn epay_submit_query(
    State(state): State<Arc<EpayState>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    accept_order(&state, form(query.unwrap_or_default().as_bytes()))
}

/// What a real EPay gateway checks before it shows the payment page.
fn accept_order(state: &EpayState, params: BTreeMap<String, String>) -> Response {
    let refuse = |reason: &str| {
        state.refused.lock().expect("lock").push(reason.to_string());
        (StatusCode::BAD_REQUEST, reason.to_string()).into_response()
    };
    if !epay::verify(&params, &state.key) {
        return refuse("signature");
    }
    if params.get("pid") != Some(&state.merchant_id) {
        return refuse("merchant");
    }
    let money_ok = params
        .get("money")
        .and_then(|m| pylon_shared::payment::money::Cents::parse(m).ok())
        .is_some_and(|c| c.0 > 0);
    if !money_ok {
        return refuse("money");
    }
    for field in ["out_trade_no", "notify_url", "type", "name"] {
        if params.get(field).is_none_or(|v| v.is_empty()) {
            return refuse(field);
        }
    }
    let order = EpayOrder {
        params,
        gateway_trade_no: format!("EP{}", random_alphanumeric(12)),
    };
    state.orders.lock().expect("lock").push(order);
    (StatusCode::OK, "<html>pay here</html>").into_response()
}

// ---------------------------------------------------------------------------------------------
// Stripe

/// A Checkout Session the mock Stripe API created.
#[derive(Debug, Clone)]
pub struct StripeSession {
    pub id: String,
    /// Every form field as received.
    pub form: BTreeMap<String, String>,
}

impl StripeSession {
    pub fn reference(&self) -> &str {
        &self.form["client_reference_id"]
    }

    pub fn quantity(&self) -> i64 {
        self.form["line_items[0][quantity]"]
            .parse()
            .expect("quantity")
    }
}

struct StripeState {
    secret_key: String,
    price_id: String,
    base_url: Mutex<String>,
    sessions: Mutex<Vec<StripeSession>>,
}

/// A mock of Stripe's API (Checkout Sessions) and of its webhook sender.
pub struct StripeApi {
    pub base_url: String,
    state: Arc<StripeState>,
    http: reqwest::Client,
}

impl StripeApi {
    pub async fn start(secret_key: &str, price_id: &str) -> Self {
        let state = Arc::new(StripeState {
            secret_key: secret_key.to_string(),
            price_id: price_id.to_string(),
            base_url: Mutex::new(String::new()),
            sessions: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/v1/checkout/sessions", post(stripe_create_session))
            .with_state(Arc::clone(&state));
        let base_url = serve(router).await;
        *state.base_url.lock().expect("lock") = base_url.clone();
        Self {
            base_url,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The sessions created so far.
    pub fn sessions(&self) -> Vec<StripeSession> {
        self.state.sessions.lock().expect("lock").clone()
    }

    /// The `checkout.session.completed` event Stripe sends when `session` is paid at
    /// `unit_amount` cents per unit in `currency`.
    pub fn completed_event(
        &self,
        session: &StripeSession,
        unit_amount: i64,
        currency: &str,
    ) -> Value {
        let amount = unit_amount * session.quantity();
        json!({
            "id": format!("evt_{}", random_alphanumeric(16)),
            "object": "event",
            "type": "checkout.session.completed",
            "data": { "object": {
                "id": session.id,
                "object": "checkout.session",
                "client_reference_id": session.reference(),
                "status": "complete",
                "payment_status": "paid",
                "amount_subtotal": amount,
                "amount_total": amount,
                "currency": currency,
            }},
        })
    }

    /// Delivers `payload` to `webhook_url` signed with `secret` at `timestamp`; answers the
    /// HTTP status.
    pub async fn deliver(
        &self,
        webhook_url: &str,
        payload: &[u8],
        secret: &str,
        timestamp: i64,
    ) -> u16 {
        self.http
            .post(webhook_url)
            .header("Content-Type", "application/json")
            .header(
                stripe::SIGNATURE_HEADER,
                stripe::signature_header(payload, secret, timestamp),
            )
            .body(payload.to_vec())
            .send()
            .await
            .expect("Pylon reachable")
            .status()
            .as_u16()
    }
}

async fn stripe_create_session(
    State(state): State<Arc<StripeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = |status: StatusCode, message: &str| {
        (
            status,
            axum::Json(json!({ "error": { "message": message } })),
        )
            .into_response()
    };
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", state.secret_key));
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "Invalid API Key provided");
    }
    let fields = form(&body);
    if fields.get("line_items[0][price]") != Some(&state.price_id) {
        return error(StatusCode::BAD_REQUEST, "No such price");
    }
    let quantity_ok = fields
        .get("line_items[0][quantity]")
        .and_then(|q| q.parse::<i64>().ok())
        .is_some_and(|q| q > 0);
    if !quantity_ok || fields.get("mode").map(String::as_str) != Some("payment") {
        return error(StatusCode::BAD_REQUEST, "Invalid line items or mode");
    }
    for field in ["client_reference_id", "success_url", "cancel_url"] {
        if fields.get(field).is_none_or(|v| v.is_empty()) {
            return error(StatusCode::BAD_REQUEST, "Missing required param");
        }
    }
    let id = format!("cs_test_{}", random_alphanumeric(24));
    let url = format!("{}/pay/{id}", state.base_url.lock().expect("lock"));
    state.sessions.lock().expect("lock").push(StripeSession {
        id: id.clone(),
        form: fields,
    });
    axum::Json(json!({ "id": id, "object": "checkout.session", "url": url })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Creem

/// A checkout the mock Creem API created.
#[derive(Debug, Clone)]
pub struct CreemCheckout {
    pub id: String,
    /// The request body as received.
    pub request: Value,
}

impl CreemCheckout {
    /// Pylon's order number (`request_id`).
    pub fn request_id(&self) -> &str {
        self.request["request_id"].as_str().unwrap_or_default()
    }

    pub fn product_id(&self) -> &str {
        self.request["product_id"].as_str().unwrap_or_default()
    }
}

struct CreemState {
    api_key: String,
    /// Each product on sale: its price in cents and currency.
    products: BTreeMap<String, (i64, String)>,
    base_url: Mutex<String>,
    checkouts: Mutex<Vec<CreemCheckout>>,
}

/// A mock of Creem's API (checkouts) and of its webhook sender.
pub struct CreemApi {
    pub base_url: String,
    state: Arc<CreemState>,
    http: reqwest::Client,
}

impl CreemApi {
    /// A merchant with `api_key` selling `products` (`(id, price in cents, currency)`).
    pub async fn start(api_key: &str, products: &[(&str, i64, &str)]) -> Self {
        let state = Arc::new(CreemState {
            api_key: api_key.to_string(),
            products: products
                .iter()
                .map(|(id, cents, currency)| (id.to_string(), (*cents, currency.to_string())))
                .collect(),
            base_url: Mutex::new(String::new()),
            checkouts: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route(creem::CHECKOUTS_PATH, post(creem_create_checkout))
            .with_state(Arc::clone(&state));
        let base_url = serve(router).await;
        *state.base_url.lock().expect("lock") = base_url.clone();
        Self {
            base_url,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The checkouts created so far.
    pub fn checkouts(&self) -> Vec<CreemCheckout> {
        self.state.checkouts.lock().expect("lock").clone()
    }

    /// The `checkout.completed` event Creem sends when `checkout` is paid: the product's
    /// price and currency, as Creem reports them.
    pub fn completed_event(&self, checkout: &CreemCheckout) -> Value {
        let (amount, currency) = self.state.products[checkout.product_id()].clone();
        self.event_for(checkout, amount, &currency)
    }

    /// A `checkout.completed` event for `checkout` reporting `amount` cents of `currency`
    /// (to forge a mismatch).
    pub fn event_for(&self, checkout: &CreemCheckout, amount: i64, currency: &str) -> Value {
        json!({
            "id": format!("evt_{}", random_alphanumeric(20)),
            "eventType": creem::CHECKOUT_COMPLETED,
            "created_at": 1_728_734_325_927_i64,
            "object": {
                "id": checkout.id,
                "object": "checkout",
                "request_id": checkout.request_id(),
                "order": {
                    "object": "order",
                    "id": format!("ord_{}", random_alphanumeric(16)),
                    "product": checkout.product_id(),
                    "amount": amount,
                    "currency": currency,
                    "sub_total": amount,
                    "tax_amount": 0,
                    "amount_due": amount,
                    "amount_paid": amount,
                    "status": "paid",
                    "type": "onetime",
                    "mode": "test",
                },
                "product": { "id": checkout.product_id(), "object": "product", "price": amount, "currency": currency },
                "units": 1,
                "customer": { "object": "customer", "email": checkout.request["customer"]["email"] },
                "status": "completed",
                "metadata": checkout.request["metadata"],
                "mode": "test",
            },
        })
    }

    /// Delivers `payload` to `webhook_url` signed with `secret`; answers the HTTP status.
    pub async fn deliver(&self, webhook_url: &str, payload: &[u8], secret: &str) -> u16 {
        let signature = creem::signature(payload, secret);
        self.deliver_with_signature(webhook_url, payload, &signature)
            .await
    }

    /// Delivers `payload` with the `creem-signature` given (to forge one).
    pub async fn deliver_with_signature(
        &self,
        webhook_url: &str,
        payload: &[u8],
        signature: &str,
    ) -> u16 {
        self.http
            .post(webhook_url)
            .header("Content-Type", "application/json")
            .header(creem::SIGNATURE_HEADER, signature)
            .body(payload.to_vec())
            .send()
            .await
            .expect("Pylon reachable")
            .status()
            .as_u16()
    }
}

async fn creem_create_checkout(
    State(state): State<Arc<CreemState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = |status: StatusCode, message: &str| {
        (status, axum::Json(json!({ "message": [message] }))).into_response()
    };
    let authorized = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == state.api_key);
    if !authorized {
        return error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    let product = request["product_id"].as_str().unwrap_or_default();
    if !state.products.contains_key(product) {
        return error(StatusCode::NOT_FOUND, "Product not found");
    }
    if request["request_id"].as_str().is_none_or(str::is_empty) {
        return error(StatusCode::BAD_REQUEST, "request_id missing");
    }
    let id = format!("ch_{}", random_alphanumeric(20));
    let url = format!("{}/checkout/{id}", state.base_url.lock().expect("lock"));
    state.checkouts.lock().expect("lock").push(CreemCheckout {
        id: id.clone(),
        request,
    });
    axum::Json(json!({ "id": id, "object": "checkout", "checkout_url": url })).into_response()
}

// ---------------------------------------------------------------------------------------------
// WeChat Pay

use pylon_shared::payment::wechat::{
    self,
    rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
    rsa::rand_core::OsRng,
    rsa::{RsaPrivateKey, RsaPublicKey},
};

/// A Native order WeChat Pay accepted.
#[derive(Debug, Clone)]
pub struct WechatOrder {
    /// The request body as received.
    pub request: Value,
    pub code_url: String,
}

impl WechatOrder {
    pub fn trade_no(&self) -> &str {
        self.request["out_trade_no"].as_str().unwrap_or_default()
    }

    pub fn total(&self) -> i64 {
        self.request["amount"]["total"].as_i64().unwrap_or_default()
    }
}

/// A notification as WeChat Pay sends it: the body and its signature headers.
#[derive(Debug, Clone)]
pub struct WechatNotification {
    pub body: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

struct WechatState {
    app_id: String,
    mch_id: String,
    merchant_public: RsaPublicKey,
    platform_private: RsaPrivateKey,
    orders: Mutex<Vec<WechatOrder>>,
    refused: Mutex<Vec<String>>,
}

/// A mock WeChat Pay (API v3) with one merchant and app, and fresh RSA keys: the merchant's
/// (whose private half Pylon is configured with) and the platform's (whose public half is).
pub struct WechatPay {
    pub base_url: String,
    pub app_id: String,
    pub mch_id: String,
    pub api_v3_key: String,
    /// The merchant's private key, PKCS#8 PEM (`WechatPayPrivateKey`).
    pub merchant_private_pem: String,
    /// The platform's public key, PEM (`WechatPayPlatformPublicKey`).
    pub platform_public_pem: String,
    state: Arc<WechatState>,
    http: reqwest::Client,
}

fn rsa_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA key")
}

impl WechatPay {
    pub async fn start(app_id: &str, mch_id: &str) -> Self {
        let (merchant, platform) = tokio::task::spawn_blocking(|| (rsa_key(), rsa_key()))
            .await
            .expect("key generation");
        let merchant_private_pem = merchant
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .to_string();
        let platform_public_pem = platform
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        let state = Arc::new(WechatState {
            app_id: app_id.to_string(),
            mch_id: mch_id.to_string(),
            merchant_public: merchant.to_public_key(),
            platform_private: platform,
            orders: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route(wechat::NATIVE_PATH, post(wechat_native_order))
            .with_state(Arc::clone(&state));
        Self {
            base_url: serve(router).await,
            app_id: app_id.to_string(),
            mch_id: mch_id.to_string(),
            api_v3_key: random_alphanumeric(32),
            merchant_private_pem,
            platform_public_pem,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The orders accepted so far.
    pub fn orders(&self) -> Vec<WechatOrder> {
        self.state.orders.lock().expect("lock").clone()
    }

    /// Why requests were refused.
    pub fn refusals(&self) -> Vec<String> {
        self.state.refused.lock().expect("lock").clone()
    }

    /// The transaction WeChat Pay reports when `order` is paid.
    pub fn paid_transaction(&self, order: &WechatOrder) -> Value {
        json!({
            "appid": self.app_id,
            "mchid": self.mch_id,
            "out_trade_no": order.trade_no(),
            "transaction_id": format!("4200{}", random_digits(24)),
            "trade_type": "NATIVE",
            "trade_state": wechat::TRADE_STATE_SUCCESS,
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": "2026-12-03T12:00:00+08:00",
            "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
            "amount": {
                "total": order.total(),
                "payer_total": order.total(),
                "currency": "CNY",
                "payer_currency": "CNY",
            },
        })
    }

    /// The notification of `transaction`, encrypted and signed as WeChat Pay does, sent at
    /// `timestamp`.
    pub fn notification(&self, transaction: &Value, timestamp: i64) -> WechatNotification {
        let nonce = random_alphanumeric(12);
        let ciphertext = wechat::encrypt_resource(
            &self.api_v3_key,
            transaction.to_string().as_bytes(),
            &nonce,
            "transaction",
        )
        .expect("encrypt");
        let body = json!({
            "id": format!("EV-{}", random_alphanumeric(20)),
            "create_time": "2026-12-03T12:00:01+08:00",
            "resource_type": "encrypt-resource",
            "event_type": wechat::TRANSACTION_SUCCESS,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "transaction",
                "nonce": nonce,
            },
        })
        .to_string();
        self.signed(body, timestamp)
    }

    /// `body` signed with the platform key at `timestamp`.
    pub fn signed(&self, body: String, timestamp: i64) -> WechatNotification {
        let timestamp = timestamp.to_string();
        let nonce = random_alphanumeric(32);
        let signature = wechat::sign(
            &self.state.platform_private,
            wechat::notification_message(&timestamp, &nonce, &body).as_bytes(),
        )
        .expect("sign");
        WechatNotification {
            body,
            timestamp,
            nonce,
            signature,
        }
    }

    /// Delivers `notification` to `notify_url`; answers the HTTP status.
    pub async fn deliver(&self, notify_url: &str, notification: &WechatNotification) -> u16 {
        self.http
            .post(notify_url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", &notification.timestamp)
            .header("Wechatpay-Nonce", &notification.nonce)
            .header("Wechatpay-Signature", &notification.signature)
            .header(
                "Wechatpay-Serial",
                "PUB_KEY_ID_0000000000000024101100397200000006",
            )
            .body(notification.body.clone())
            .send()
            .await
            .expect("Pylon reachable")
            .status()
            .as_u16()
    }
}

fn random_digits(count: usize) -> String {
    random_alphanumeric(count * 2)
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .take(count)
        .collect()
}

/// What WeChat Pay checks before it answers a Native order's `code_url`.
async fn wechat_native_order(
    State(state): State<Arc<WechatState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |status: StatusCode, code: &str, reason: &str| {
        state.refused.lock().expect("lock").push(reason.to_string());
        (
            status,
            axum::Json(json!({ "code": code, "message": reason })),
        )
            .into_response()
    };
    let Some(auth) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(wechat::parse_authorization)
    else {
        return refuse(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "authorization");
    };
    let fresh = auth
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| (t - pylon_shared::db::now_secs()).abs() <= 300);
    let text = String::from_utf8_lossy(&body);
    let message = wechat::request_message(
        "POST",
        wechat::NATIVE_PATH,
        auth.timestamp.parse().unwrap_or_default(),
        &auth.nonce,
        &text,
    );
    let signed = wechat::verify(&state.merchant_public, message.as_bytes(), &auth.signature);
    if auth.mch_id != state.mch_id || !fresh || signed.is_err() {
        return refuse(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "signature");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "PARAM_ERROR", "json");
    };
    let text_of = |name: &str| request[name].as_str().unwrap_or_default();
    let trade_no_ok = (6..=32).contains(&text_of("out_trade_no").len());
    let amount_ok = request["amount"]["total"].as_i64().is_some_and(|t| t > 0)
        && request["amount"]["currency"] == "CNY";
    if text_of("appid") != state.app_id || text_of("mchid") != state.mch_id {
        return refuse(StatusCode::BAD_REQUEST, "PARAM_ERROR", "appid or mchid");
    }
    if !trade_no_ok
        || !amount_ok
        || text_of("description").is_empty()
        || text_of("time_expire").is_empty()
        || !text_of("notify_url").starts_with("http")
    {
        return refuse(StatusCode::BAD_REQUEST, "PARAM_ERROR", "fields");
    }
    let code_url = format!("weixin://wxpay/bizpayurl?pr={}", random_alphanumeric(7));
    state.orders.lock().expect("lock").push(WechatOrder {
        request,
        code_url: code_url.clone(),
    });
    let answer = json!({ "code_url": code_url }).to_string();
    let timestamp = pylon_shared::db::now_secs().to_string();
    let nonce = random_alphanumeric(32);
    let Ok(signature) = wechat::sign(
        &state.platform_private,
        wechat::notification_message(&timestamp, &nonce, &answer).as_bytes(),
    ) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", "sign");
    };
    (
        [
            ("content-type", "application/json".to_string()),
            ("wechatpay-timestamp", timestamp),
            ("wechatpay-nonce", nonce),
            ("wechatpay-signature", signature),
        ],
        answer,
    )
        .into_response()
}
