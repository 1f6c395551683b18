//! `GET /api/payment/qrcode?orderId=`: places the caller's pending order with WeChat Pay as a
//! Native order (API v3: the request signed with the merchant key, the answer's signature
//! checked against the platform key) and answers its `code_url` (the QR code's content),
//! `orderId` and `expires_in` (seconds left before the order expires), in the envelope's
//! `data` and, as seed 002 shows them, at the top level.

use super::settings::{PaymentSettings, WechatSettings};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::order::own_order;
use crate::routes::topup::list::expire_stale;
use axum::extract::{Query, State};
use pylon_shared::crypto::random_alphanumeric;
use pylon_shared::db::{TOPUP_PENDING, now_secs};
use pylon_shared::payment::wechat::{self, Merchant, NativeAmount, NativeOrder};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct QrQuery {
    #[serde(default, rename = "orderId", alias = "order_id")]
    order_id: String,
}

pub async fn qrcode(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Query(query): Query<QrQuery>,
) -> ApiResult {
    if query.order_id.trim().is_empty() {
        return Err(ApiError::invalid("orderId is required"));
    }
    let settings = PaymentSettings::load(&app).await?;
    if !settings.wechat.enabled() {
        return Err(ApiError::invalid(
            "The administrator has not configured WeChat Pay",
        ));
    }
    if settings.callback_address.is_empty() {
        return Err(ApiError::invalid(
            "The administrator has not set ServerAddress, the address WeChat Pay calls back",
        ));
    }
    expire_stale(&app).await?;
    let order = own_order(&app, user.id, query.order_id.trim()).await?;
    if order.payment_provider != "wechat" {
        return Err(ApiError::invalid(
            "The order is not paid through WeChat Pay",
        ));
    }
    if order.status != TOPUP_PENDING {
        return Err(ApiError::invalid(format!(
            "The order is not waiting for payment ({})",
            order.status
        )));
    }
    let expires_at = order.create_time + settings.order_expire_secs;
    let expires_in = expires_at - now_secs();
    if expires_in <= 0 {
        return Err(ApiError::invalid("The order has expired"));
    }
    let description = match app.db.plan(&order.plan_id.to_string()).await? {
        Some(plan) => plan.name,
        None => "Top-up".to_string(),
    };
    let time_expire = chrono::DateTime::from_timestamp(expires_at, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default();
    let notify_url = format!("{}/api/payment/wechat/notify", settings.callback_address);
    let body = NativeOrder {
        appid: &settings.wechat.app_id,
        mchid: &settings.wechat.mch_id,
        description: &description,
        out_trade_no: &order.trade_no,
        time_expire: &time_expire,
        notify_url: &notify_url,
        amount: NativeAmount {
            total: order.money_cents,
            currency: &order.currency,
        },
    };
    let code_url = match place_native_order(&settings.wechat, &body).await {
        Ok(code_url) => code_url,
        Err(reason) => {
            tracing::warn!(user = user.id, trade_no = %order.trade_no, %reason, "wechat native order failed");
            return Err(ApiError::invalid("Failed to start the payment"));
        }
    };
    tracing::info!(user = user.id, trade_no = %order.trade_no, "wechat native order placed");
    Ok(envelope::ok_flat(json!({
        "code_url": code_url, "orderId": order.trade_no, "expires_in": expires_in
    })))
}

/// Places the order; answers its `code_url`.
async fn place_native_order(
    settings: &WechatSettings,
    order: &NativeOrder<'_>,
) -> Result<String, String> {
    let key = wechat::private_key_from_pem(&settings.private_key).map_err(|e| e.to_string())?;
    let platform =
        wechat::public_key_from_pem(&settings.platform_public_key).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(order).map_err(|e| e.to_string())?;
    let merchant = Merchant {
        mch_id: &settings.mch_id,
        serial_no: &settings.serial_no,
        key: &key,
    };
    let authorization = wechat::authorization(
        &merchant,
        "POST",
        wechat::NATIVE_PATH,
        now_secs(),
        &random_alphanumeric(32),
        &body,
    )
    .map_err(|e| e.to_string())?;
    let client = super::http::client().map_err(|_| "no HTTP client".to_string())?;
    let answer = client
        .post(format!("{}{}", settings.api_base, wechat::NATIVE_PATH))
        .header("Authorization", authorization)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (timestamp, nonce, signature) = (
        header(wechat::HEADER_TIMESTAMP),
        header(wechat::HEADER_NONCE),
        header(wechat::HEADER_SIGNATURE),
    );
    let text = answer.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("WeChat Pay answered {status}"));
    }
    // The answer is signed like a notification: anything else did not come from WeChat Pay.
    wechat::verify(
        &platform,
        wechat::notification_message(&timestamp, &nonce, &text).as_bytes(),
        &signature,
    )
    .map_err(|_| "the answer's signature does not verify".to_string())?;
    let body: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    body["code_url"]
        .as_str()
        .filter(|url| !url.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "WeChat Pay answered no code_url".to_string())
}
