//! Seed 004's payment channels for administrators: `GET|POST|PUT /api/admin/payment` and
//! `DELETE /api/admin/payment/:id`, with `{name, status, channel, types, params}` where
//! `params` is the JSON text `{"pid", "key", "api", "return_url"}`. Pylon takes payments
//! through one EPay-compatible gateway (`yipay`) configured by new-api's options, so the
//! channel is a view of those options (one place for the settings): `api` is `PayAddress`,
//! `pid` `EpayId`, `key` `EpayKey` (stored sealed, never shown: answered as `******`; an
//! update that leaves it empty or masked keeps it), `types` the `PayMethods`, `name` and
//! `status` `EpayChannelName` and `EpayChannelEnabled`. Its id is always 1. Other channel
//! kinds (Alipay face-to-face, ...) are refused.

use super::{shop_answer, shop_ok};
use crate::app::{App, AppState};
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::routes::payment::settings::{PayMethod, PaymentSettings, option_for_storage};
use axum::extract::{Path, State};
use axum::response::Response;
use pylon_shared::changes::Topic;
use serde::Deserialize;
use serde_json::{Value, json};

/// The one channel's id.
const CHANNEL_ID: i64 = 1;
/// The channel kinds Pylon can take payments through (EPay-compatible).
const CHANNELS: [&str; 2] = ["yipay", "epay"];
/// What is shown instead of the merchant key.
const MASK: &str = "******";
/// The longest `types` value accepted.
const MAX_TYPES: usize = 16;

#[derive(Deserialize)]
pub struct ChannelInput {
    #[serde(default)]
    name: String,
    #[serde(default = "on")]
    status: i64,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    types: String,
    #[serde(default)]
    params: String,
}

fn on() -> i64 {
    1
}

#[derive(Deserialize, Default)]
struct ChannelParams {
    #[serde(default)]
    pid: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    api: String,
}

pub async fn list(State(app): State<AppState>, _: AdminUser) -> Response {
    let result = async {
        let settings = PaymentSettings::load(&app).await?;
        let configured = !settings.pay_address.is_empty() || !settings.epay_id.is_empty();
        let rows: Vec<Value> = configured
            .then(|| channel_view(&settings))
            .into_iter()
            .collect();
        Ok(shop_ok(json!({ "count": rows.len(), "rows": rows }), ""))
    };
    shop_answer(result.await)
}

pub async fn save(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Response {
    let result = async {
        store(&app, &input).await?;
        tracing::info!(admin = admin.user.id, channel = %input.channel, "payment channel saved");
        let settings = PaymentSettings::load(&app).await?;
        Ok(shop_ok(channel_view(&settings), ""))
    };
    shop_answer(result.await)
}

pub async fn delete(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let settings = PaymentSettings::load(&app).await?;
        let exists = id.trim().parse::<i64>() == Ok(CHANNEL_ID)
            && (!settings.pay_address.is_empty() || !settings.epay_id.is_empty());
        if exists {
            for key in ["PayAddress", "EpayId", "EpayKey", "EpayChannelName"] {
                app.db.set_option(key, "").await?;
            }
            app.changes.publish(Topic::Option, 0).await?;
            tracing::info!(admin = admin.user.id, "payment channel deleted");
        }
        Ok(shop_ok(json!(i64::from(exists)), ""))
    };
    shop_answer(result.await)
}

/// Checks `input` and writes it into the options.
async fn store(app: &App, input: &ChannelInput) -> Result<(), ApiError> {
    if !CHANNELS.contains(&input.channel.as_str()) {
        return Err(ApiError::invalid(
            "Unsupported channel: only EPay-compatible gateways (yipay) can take payments",
        ));
    }
    if input.status != 0 && input.status != 1 {
        return Err(ApiError::invalid("The status must be 0 or 1"));
    }
    let params: ChannelParams = serde_json::from_str(&input.params).map_err(|_| {
        ApiError::invalid(r#"params must be the JSON text {"pid", "key", "api", "return_url"}"#)
    })?;
    let api = params.api.trim().trim_end_matches('/');
    let api_ok = url::Url::parse(api)
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !api_ok || params.pid.trim().is_empty() {
        return Err(ApiError::invalid(
            "params.api must be the gateway's http(s) address and params.pid the merchant id",
        ));
    }
    let types: Vec<&str> = input
        .types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let types_ok = !types.is_empty()
        && types.len() <= MAX_TYPES
        && types
            .iter()
            .all(|t| t.len() <= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !types_ok {
        return Err(ApiError::invalid(
            "types must list the payment types, comma-separated (alipay,wxpay)",
        ));
    }
    let settings = PaymentSettings::load(app).await?;
    let key = params.key.trim();
    if (key.is_empty() || key == MASK) && settings.epay_key.is_empty() {
        return Err(ApiError::invalid(
            "params.key, the merchant key, is required",
        ));
    }
    let methods = pay_methods(&settings.pay_methods, &types);
    let mut options = vec![
        ("PayAddress", api.to_string()),
        ("EpayId", params.pid.trim().to_string()),
        ("EpayChannelName", input.name.trim().to_string()),
        ("EpayChannelEnabled", (input.status == 1).to_string()),
        (
            "PayMethods",
            serde_json::to_string(&methods).unwrap_or_default(),
        ),
    ];
    if !key.is_empty() && key != MASK {
        options.push(("EpayKey", key.to_string()));
    }
    for (option, value) in options {
        let stored = option_for_storage(app, option, value);
        app.db.set_option(option, &stored).await?;
    }
    app.changes.publish(Topic::Option, 0).await?;
    Ok(())
}

/// The payment methods for `types`: an existing method keeps its name and color.
fn pay_methods(current: &[PayMethod], types: &[&str]) -> Vec<PayMethod> {
    types
        .iter()
        .map(|kind| {
            current
                .iter()
                .find(|m| m.get("type").is_some_and(|t| t == kind))
                .cloned()
                .unwrap_or_else(|| {
                    [("name", *kind), ("type", *kind)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
        })
        .collect()
}

/// The channel as the seed shows it, with the key masked.
fn channel_view(settings: &PaymentSettings) -> Value {
    let types: Vec<&str> = settings
        .pay_methods
        .iter()
        .filter_map(|m| m.get("type").map(String::as_str))
        .collect();
    let params = json!({
        "pid": settings.epay_id,
        "key": if settings.epay_key.is_empty() { "" } else { MASK },
        "api": settings.pay_address,
        "return_url": "",
    });
    json!({
        "id": CHANNEL_ID.to_string(),
        "name": if settings.epay_channel_name.is_empty() { "易支付" } else { settings.epay_channel_name.as_str() },
        "channel": "yipay",
        "types": types.join(","),
        "params": params.to_string(),
        "status": i64::from(settings.epay_switched_on),
    })
}
