//! A mock of Waffo for the Waffo payment tests, on 127.0.0.1 and a free port, with fresh RSA
//! keys: the merchant's (whose private half Pylon is configured with) and Waffo's (whose
//! public half is). It checks what Waffo checks on `POST /api/v1/order/create` (the API key,
//! the merchant's signature of the exact body, the merchant, the amount written for its
//! currency, the notify address), answers signed with Waffo's key, and sends notifications
//! signed with Waffo's key, checking the signature of Pylon's answer with the merchant's
//! public key. Tests may forge what Waffo would never send through the `*_with` builders.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::payment::waffo::{
    self,
    rsa::pkcs8::{EncodePrivateKey, EncodePublicKey},
    rsa::rand_core::OsRng,
    rsa::{RsaPrivateKey, RsaPublicKey},
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where the mock serves Waffo's API, below its address (as `https://api.waffo.com/api/v1`).
const API_PREFIX: &str = "/api/v1";

/// An order Waffo accepted.
#[derive(Debug, Clone)]
pub struct WaffoOrder {
    /// The request body as received.
    pub request: Value,
    pub acquiring_order_id: String,
    /// Where the payer is sent.
    pub payment_url: String,
}

impl WaffoOrder {
    /// Pylon's order number.
    pub fn merchant_order_id(&self) -> &str {
        self.request["merchantOrderId"].as_str().unwrap_or_default()
    }

    pub fn amount(&self) -> &str {
        self.request["orderAmount"].as_str().unwrap_or_default()
    }

    pub fn currency(&self) -> &str {
        self.request["orderCurrency"].as_str().unwrap_or_default()
    }
}

/// Pylon's answer to a notification.
#[derive(Debug, Clone)]
pub struct WebhookAnswer {
    pub status: u16,
    pub body: String,
    /// Whether `X-SIGNATURE` is the merchant's signature of the body.
    pub signed_by_merchant: bool,
}

impl WebhookAnswer {
    /// `success` or `failed` (empty when the body is not Waffo's answer).
    pub fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

struct WaffoState {
    api_key: String,
    merchant_id: String,
    merchant_public: RsaPublicKey,
    waffo_private: RsaPrivateKey,
    base_url: Mutex<String>,
    orders: Mutex<Vec<WaffoOrder>>,
    refused: Mutex<Vec<String>>,
    /// Answer orders with a signature that does not verify (a forged answer).
    forge_answers: AtomicBool,
}

/// A mock Waffo with one merchant.
pub struct WaffoApi {
    /// The API base, as `WaffoApiBaseUrl` takes it.
    pub base_url: String,
    pub api_key: String,
    pub merchant_id: String,
    /// The merchant's private key, base64 PKCS#8 DER (`WaffoPrivateKey`).
    pub merchant_private_key: String,
    /// Waffo's public key, base64 X.509 DER (`WaffoPublicCert`).
    pub waffo_public_key: String,
    state: Arc<WaffoState>,
    http: reqwest::Client,
}

fn rsa_key() -> RsaPrivateKey {
    RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA key")
}

impl WaffoApi {
    pub async fn start(api_key: &str, merchant_id: &str) -> Self {
        let (merchant, waffo_key) = tokio::task::spawn_blocking(|| (rsa_key(), rsa_key()))
            .await
            .expect("key generation");
        let merchant_private_key = BASE64.encode(merchant.to_pkcs8_der().expect("der").as_bytes());
        let waffo_public_key = BASE64.encode(
            waffo_key
                .to_public_key()
                .to_public_key_der()
                .expect("der")
                .as_bytes(),
        );
        let state = Arc::new(WaffoState {
            api_key: api_key.to_string(),
            merchant_id: merchant_id.to_string(),
            merchant_public: merchant.to_public_key(),
            waffo_private: waffo_key,
            base_url: Mutex::new(String::new()),
            orders: Mutex::new(Vec::new()),
            refused: Mutex::new(Vec::new()),
            forge_answers: AtomicBool::new(false),
        });
        let router = Router::new()
            .route(
                &format!("{API_PREFIX}{}", waffo::CREATE_ORDER_PATH),
                post(create_order),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock Waffo");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        *state.base_url.lock().expect("lock") = address.clone();
        Self {
            base_url: format!("{address}{API_PREFIX}"),
            api_key: api_key.to_string(),
            merchant_id: merchant_id.to_string(),
            merchant_private_key,
            waffo_public_key,
            state,
            http: reqwest::Client::new(),
        }
    }

    /// The orders accepted so far.
    pub fn orders(&self) -> Vec<WaffoOrder> {
        self.state.orders.lock().expect("lock").clone()
    }

    /// Why requests were refused.
    pub fn refusals(&self) -> Vec<String> {
        self.state.refused.lock().expect("lock").clone()
    }

    /// From now on, answer orders with a signature Waffo did not make.
    pub fn forge_answers(&self, forge: bool) {
        self.state.forge_answers.store(forge, Ordering::SeqCst);
    }

    /// The notification Waffo sends when `order` is paid.
    pub fn paid_notification(&self, order: &WaffoOrder) -> Value {
        self.notification_with(
            order,
            order.amount(),
            order.currency(),
            waffo::ORDER_PAY_SUCCESS,
        )
    }

    /// A payment notification of `order` reporting `amount` of `currency` and `status` (to
    /// forge a mismatch).
    pub fn notification_with(
        &self,
        order: &WaffoOrder,
        amount: &str,
        currency: &str,
        status: &str,
    ) -> Value {
        json!({
            "eventType": waffo::EVENT_PAYMENT,
            "result": {
                "paymentRequestId": order.request["paymentRequestId"],
                "merchantOrderId": order.merchant_order_id(),
                "acquiringOrderId": order.acquiring_order_id,
                "orderStatus": status,
                "orderCurrency": currency,
                "orderAmount": amount,
                "userCurrency": currency,
                "finalDealAmount": amount,
                "orderDescription": order.request["orderDescription"],
                "merchantInfo": { "merchantId": self.merchant_id },
                "userInfo": order.request["userInfo"],
                "paymentInfo": { "productName": waffo::ONE_TIME_PAYMENT, "payMethodType": "CREDITCARD" },
                "orderRequestedAt": order.request["orderRequestedAt"],
                "orderCompletedAt": "2026-12-03T12:00:01.000Z",
            },
        })
    }

    /// Waffo's signature of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        waffo::sign(&self.state.waffo_private, body).expect("sign")
    }

    /// Delivers `body` to `webhook_url` signed by Waffo.
    pub async fn deliver(&self, webhook_url: &str, body: &[u8]) -> WebhookAnswer {
        let signature = self.sign(body);
        self.deliver_with_signature(webhook_url, body, Some(&signature))
            .await
    }

    /// Delivers `body` with the `X-SIGNATURE` given, or none (to forge one).
    pub async fn deliver_with_signature(
        &self,
        webhook_url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> WebhookAnswer {
        let mut request = self
            .http
            .post(webhook_url)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header(waffo::HEADER_SIGNATURE, signature);
        }
        let answer = request.send().await.expect("Pylon reachable");
        let status = answer.status().as_u16();
        let signature = answer
            .headers()
            .get(waffo::HEADER_SIGNATURE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = answer.text().await.unwrap_or_default();
        let signed_by_merchant =
            waffo::verify(&self.state.merchant_public, body.as_bytes(), &signature).is_ok();
        WebhookAnswer {
            status,
            body,
            signed_by_merchant,
        }
    }
}

/// What Waffo checks before it creates an order.
async fn create_order(
    State(state): State<Arc<WaffoState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let refuse = |status: StatusCode, code: &str, reason: &str| {
        state.refused.lock().expect("lock").push(reason.to_string());
        (status, axum::Json(json!({ "code": code, "msg": reason }))).into_response()
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if header(waffo::HEADER_API_KEY) != state.api_key {
        return refuse(StatusCode::UNAUTHORIZED, "A0001", "api key");
    }
    let signature = header(waffo::HEADER_SIGNATURE);
    if waffo::verify(&state.merchant_public, &body, &signature).is_err() {
        return refuse(StatusCode::UNAUTHORIZED, "A0002", "signature");
    }
    if header(waffo::HEADER_API_VERSION) != waffo::API_VERSION
        || header("content-type") != "application/json"
    {
        return refuse(StatusCode::BAD_REQUEST, "A0003", "headers");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "A0004", "json");
    };
    let text = |pointer: &str| {
        request
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if text("/merchantInfo/merchantId") != state.merchant_id {
        return refuse(StatusCode::OK, "A0005", "merchant");
    }
    let currency = text("/orderCurrency");
    let amount = text("/orderAmount");
    let decimals = amount.split_once('.').map_or(0, |(_, f)| f.len());
    let amount_ok = waffo::parse_amount(&amount).is_ok_and(|a| a.0 > 0)
        && decimals
            == if waffo::is_zero_decimal(&currency) {
                0
            } else {
                2
            };
    let request_id = text("/paymentRequestId");
    let fields_ok = !request_id.is_empty()
        && text("/merchantOrderId") == request_id
        && currency.len() == 3
        && !text("/orderDescription").is_empty()
        && text("/orderRequestedAt").ends_with('Z')
        && text("/notifyUrl").starts_with("http")
        && !text("/userInfo/userId").is_empty()
        && text("/paymentInfo/productName") == waffo::ONE_TIME_PAYMENT;
    if !amount_ok || !fields_ok {
        return refuse(StatusCode::OK, "A0006", "fields");
    }
    let acquiring_order_id = format!("ACQ{}", random_alphanumeric(20));
    let payment_url = format!(
        "{}/checkout/{acquiring_order_id}",
        state.base_url.lock().expect("lock")
    );
    state.orders.lock().expect("lock").push(WaffoOrder {
        request,
        acquiring_order_id: acquiring_order_id.clone(),
        payment_url: payment_url.clone(),
    });
    let action = json!({ "actionType": "WEB", "webUrl": payment_url }).to_string();
    let answer = json!({
        "code": waffo::CODE_SUCCESS,
        "msg": "success",
        "data": {
            "paymentRequestId": request_id,
            "merchantOrderId": request_id,
            "acquiringOrderId": acquiring_order_id,
            "orderStatus": "AUTHORIZATION_REQUIRED",
            "orderAction": action,
        },
    })
    .to_string();
    let signed = if state.forge_answers.load(Ordering::SeqCst) {
        format!("{answer} ")
    } else {
        answer.clone()
    };
    let Ok(signature) = waffo::sign(&state.waffo_private, signed.as_bytes()) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "S0001", "sign");
    };
    (
        [
            ("content-type", "application/json".to_string()),
            (waffo::HEADER_SIGNATURE, signature),
        ],
        answer,
    )
        .into_response()
}
