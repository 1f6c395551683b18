//! `GET /api/status`: public site information with every key new-api's `GetStatus` sends, so
//! that its consoles render. Values come from the settings snapshot (defaults while unset):
//! each sign-in method's switch and what the console needs to start it (GitHub's, Discord's
//! and LinuxDO's client ids, Telegram's bot name, WeChat's QR code); Turnstile, which Pylon
//! does not implement, is reported off. The enabled custom OAuth providers are listed in
//! `custom_oauth_providers` (absent when there is none, as in new-api), so that the login page
//! shows their buttons.
//!
//! The console panels follow new-api's `console_setting.*` switches (on by default): while on,
//! `api_info` and `faq` carry their lists. `announcements_enabled` is on while its switch is
//! and there is something to show: the `console_setting.announcements` list and Pylon's
//! enabled announcements (seed 001), both sent in `announcements` in new-api's item shape.

use crate::app::AppState;
use crate::envelope::{self, rfc3339};
use crate::error::ApiResult;
use crate::routes::invitation::settings::InvitationSettings;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn status(State(app): State<AppState>) -> ApiResult {
    let options = app.settings.now();
    let text = |key: &str| Value::String(options.text(key).to_string());
    let flag = |key: &str| Value::Bool(options.flag(key));
    let number = |key: &str, fallback: f64| json!(options.number(key).unwrap_or(fallback));
    let json_or = |key: &str, fallback: Value| {
        serde_json::from_str::<Value>(options.text(key)).unwrap_or(fallback)
    };
    // new-api's display type; the older switch decides while it is unset.
    let display_type = match options.text("general_setting.quota_display_type").trim() {
        "" if options.flag("DisplayInCurrencyEnabled") => "USD".to_string(),
        "" => "TOKENS".to_string(),
        kind => kind.to_string(),
    };
    let invitations = InvitationSettings::of(&options);
    let setup = app.db.is_setup_done().await?;
    let list = |key: &str| match json_or(key, json!([])) {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let api_info_enabled = options.flag("console_setting.api_info_enabled");
    let faq_enabled = options.flag("console_setting.faq_enabled");
    let mut announcements = Vec::new();
    if options.flag("console_setting.announcements_enabled") {
        announcements = list("console_setting.announcements");
        announcements.extend(app.db.announcements(true).await?.iter().map(|row| {
            json!({
                "id": row.id,
                "content": if row.title.is_empty() {
                    row.content.clone()
                } else {
                    format!("{}\n\n{}", row.title, row.content)
                },
                "publishDate": rfc3339(row.created_time),
                "type": "default",
                "extra": "",
            })
        }));
    }
    let mut data = json!({
        "version": pylon_shared::VERSION,
        "start_time": app.started_at,
        "setup": setup,
        "system_name": text("SystemName"),
        "logo": text("Logo"),
        "footer_html": text("Footer"),
        "server_address": text("ServerAddress"),
        "top_up_link": text("TopUpLink"),
        "docs_link": text("general_setting.docs_link"),
        "quota_per_unit": number("QuotaPerUnit", 500_000.0),
        "display_in_currency": display_type != "TOKENS",
        "quota_display_type": display_type,
        "custom_currency_symbol": text("general_setting.custom_currency_symbol"),
        "custom_currency_exchange_rate": number("general_setting.custom_currency_exchange_rate", 1.0),
        "usd_exchange_rate": number("USDExchangeRate", 7.3),
        "price": number("Price", 7.3),
        "stripe_unit_price": number("StripeUnitPrice", 8.0),
        "email_verification": flag("EmailVerificationEnabled"),
        "invitation_code_required": invitations.required,
        "invitation_code_methods": invitations.methods,
        "github_oauth": flag("GitHubOAuthEnabled"),
        "github_client_id": text("GitHubClientId"),
        "discord_oauth": flag("discord.enabled"),
        "discord_client_id": text("discord.client_id"),
        "linuxdo_oauth": flag("LinuxDOOAuthEnabled"),
        "linuxdo_client_id": text("LinuxDOClientId"),
        "linuxdo_minimum_trust_level": options.number("LinuxDOMinimumTrustLevel").unwrap_or(0.0) as i64,
        "telegram_oauth": flag("TelegramOAuthEnabled"),
        "telegram_bot_name": text("TelegramBotName"),
        "wechat_qrcode": text("WeChatAccountQRCodeImageURL"),
        "wechat_login": flag("WeChatAuthEnabled"),
        "turnstile_check": false,
        "turnstile_site_key": "",
        "oidc_enabled": flag("oidc.enabled"),
        "oidc_client_id": text("oidc.client_id"),
        "oidc_authorization_endpoint": text("oidc.authorization_endpoint"),
        "passkey_login": flag("passkey.enabled"),
        "passkey_display_name": text("passkey.rp_display_name"),
        "passkey_rp_id": text("passkey.rp_id"),
        "passkey_origins": text("passkey.origins"),
        "passkey_allow_insecure": flag("passkey.allow_insecure_origin"),
        "passkey_user_verification": text("passkey.user_verification"),
        "passkey_attachment": text("passkey.attachment_preference"),
        "enable_batch_update": flag("BatchUpdateEnabled"),
        "enable_drawing": flag("DrawingEnabled"),
        "enable_task": flag("TaskEnabled"),
        "enable_data_export": flag("DataExportEnabled"),
        "data_export_default_time": text("DataExportDefaultTime"),
        "default_collapse_sidebar": flag("DefaultCollapseSidebar"),
        "mj_notify_enabled": flag("MjNotifyEnabled"),
        "chats": json_or("Chats", json!([])),
        "demo_site_enabled": flag("DemoSiteEnabled"),
        "self_use_mode_enabled": flag("SelfUseModeEnabled"),
        "default_use_auto_group": flag("DefaultUseAutoGroup"),
        "api_info_enabled": api_info_enabled,
        "uptime_kuma_enabled": flag("console_setting.uptime_kuma_enabled"),
        "announcements_enabled": !announcements.is_empty(),
        "faq_enabled": faq_enabled,
        "HeaderNavModules": text("HeaderNavModules"),
        "SidebarModulesAdmin": text("SidebarModulesAdmin"),
        "user_agreement_enabled": !options.text("legal.user_agreement").trim().is_empty(),
        "privacy_policy_enabled": !options.text("legal.privacy_policy").trim().is_empty(),
        "checkin_enabled": flag("checkin_setting.enabled"),
        "database_type": app.db.dialect().name(),
        "cache_type": app.cache.backend_name(),
    });
    if api_info_enabled {
        data["api_info"] = Value::Array(list("console_setting.api_info"));
    }
    if !announcements.is_empty() {
        data["announcements"] = Value::Array(announcements);
    }
    if faq_enabled {
        data["faq"] = Value::Array(list("console_setting.faq"));
    }
    let providers = crate::routes::custom_oauth::status_entries(&app).await?;
    if !providers.is_empty() {
        data["custom_oauth_providers"] = Value::Array(providers);
    }
    Ok(envelope::ok(data))
}
