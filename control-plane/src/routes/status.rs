//! `GET /api/status`: public site information, with new-api's keys so its consoles render.

use crate::app::AppState;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use pylon_shared::roles::QUOTA_PER_UNIT;
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn status(State(app): State<AppState>) -> ApiResult {
    let options: HashMap<String, String> = app.db.all_options().await?.into_iter().collect();
    let text = |key: &str, default: &str| -> Value {
        Value::String(
            options
                .get(key)
                .cloned()
                .unwrap_or_else(|| default.to_string()),
        )
    };
    let flag = |key: &str, default: bool| -> Value {
        Value::Bool(options.get(key).map_or(default, |v| v == "true"))
    };
    let number = |key: &str, default: f64| -> Value {
        json!(
            options
                .get(key)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(default)
        )
    };
    let setup = app.db.is_setup_done().await?;
    Ok(envelope::ok(json!({
        "version": pylon_shared::VERSION,
        "start_time": app.started_at,
        "setup": setup,
        "system_name": text("SystemName", "Pylon"),
        "logo": text("Logo", ""),
        "footer_html": text("Footer", ""),
        "server_address": text("ServerAddress", ""),
        "top_up_link": text("TopUpLink", ""),
        "docs_link": text("DocsLink", ""),
        "quota_per_unit": number("QuotaPerUnit", QUOTA_PER_UNIT as f64),
        "display_in_currency": flag("DisplayInCurrencyEnabled", true),
        "quota_display_type": text("QuotaDisplayType", "USD"),
        "custom_currency_symbol": text("CustomCurrencySymbol", "¤"),
        "custom_currency_exchange_rate": number("CustomCurrencyExchangeRate", 1.0),
        "usd_exchange_rate": number("USDExchangeRate", 7.3),
        "price": number("Price", 7.3),
        "stripe_unit_price": number("StripeUnitPrice", 8.0),
        "email_verification": flag("EmailVerificationEnabled", false),
        "github_oauth": false,
        "github_client_id": "",
        "discord_oauth": false,
        "discord_client_id": "",
        "linuxdo_oauth": false,
        "linuxdo_client_id": "",
        "linuxdo_minimum_trust_level": 0,
        "telegram_oauth": false,
        "telegram_bot_name": "",
        "wechat_qrcode": "",
        "wechat_login": false,
        "turnstile_check": false,
        "turnstile_site_key": "",
        "oidc_enabled": flag("oidc.enabled", false),
        "oidc_client_id": text("oidc.client_id", ""),
        "oidc_authorization_endpoint": text("oidc.authorization_endpoint", ""),
        "passkey_login": flag("passkey.enabled", false),
        "enable_batch_update": flag("BatchUpdateEnabled", false),
        "enable_drawing": flag("DrawingEnabled", false),
        "enable_task": flag("TaskEnabled", false),
        "enable_data_export": flag("DataExportEnabled", true),
        "data_export_default_time": text("DataExportDefaultTime", "hour"),
        "default_collapse_sidebar": flag("DefaultCollapseSidebar", false),
        "mj_notify_enabled": false,
        "chats": [],
        "demo_site_enabled": flag("DemoSiteEnabled", false),
        "self_use_mode_enabled": flag("SelfUseModeEnabled", false),
        "default_use_auto_group": flag("DefaultUseAutoGroup", false),
        "api_info_enabled": false,
        "uptime_kuma_enabled": false,
        "announcements_enabled": false,
        "faq_enabled": false,
        "user_agreement_enabled": false,
        "privacy_policy_enabled": false,
        "checkin_enabled": flag("checkin_setting.enabled", false),
        "database_type": app.db.dialect().name(),
        "cache_type": app.cache.backend_name(),
    })))
}
