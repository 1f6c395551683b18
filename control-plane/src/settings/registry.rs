//! Every option the operator can set, as new-api names it, with the value Pylon uses while it
//! is unset. `GET /api/option/` lists these (stored value or default) plus any other stored key;
//! the settings snapshot reads its defaults here. Options whose name marks a credential (new-api's
//! rule: ending in `Token`, `Secret`, `Key`, `secret` or `api_key`) are never sent back.

use pylon_shared::channel_affinity::setting as affinity;
use pylon_shared::fetch_setting as fetch;

/// One option: its key and the value in force while it is unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub key: &'static str,
    pub default: &'static str,
}

const fn option(key: &'static str, default: &'static str) -> Known {
    Known { key, default }
}

/// The options, grouped as new-api's settings pages show them.
pub const OPTIONS: &[Known] = &[
    // Site and content.
    option("SystemName", "Pylon"),
    option("Logo", ""),
    option("Footer", ""),
    option("Notice", ""),
    option("About", ""),
    option("HomePageContent", ""),
    option("ServerAddress", ""),
    option("TopUpLink", ""),
    option("Chats", "[]"),
    option("DefaultCollapseSidebar", "false"),
    option("HeaderNavModules", ""),
    option("SidebarModulesAdmin", ""),
    option("general_setting.quota_display_type", ""),
    option("general_setting.docs_link", ""),
    option("general_setting.custom_currency_symbol", "¤"),
    option("general_setting.custom_currency_exchange_rate", "1"),
    // new-api's console panels (`/api/status` shows each list while its switch is on) and its
    // legal texts (`/api/user-agreement`, `/api/privacy-policy`).
    option("console_setting.api_info", ""),
    option("console_setting.announcements", ""),
    option("console_setting.faq", ""),
    option("console_setting.uptime_kuma_groups", ""),
    option("console_setting.api_info_enabled", "true"),
    option("console_setting.announcements_enabled", "true"),
    option("console_setting.faq_enabled", "true"),
    option("console_setting.uptime_kuma_enabled", "true"),
    option("legal.user_agreement", ""),
    option("legal.privacy_policy", ""),
    option("LinuxDOMinimumTrustLevel", "0"),
    option("DemoSiteEnabled", "false"),
    option("SelfUseModeEnabled", "false"),
    // Days request logs are kept (unset: `control_plane.log_retention_days`; 0: for ever).
    option("LogRetentionDays", ""),
    // Sign-up and sign-in.
    option("RegisterEnabled", "true"),
    option("PasswordLoginEnabled", "true"),
    option("PasswordRegisterEnabled", "true"),
    option("EmailVerificationEnabled", "false"),
    // Written together by `PUT /api/option/invitation-code` only (`routes::invitation`).
    option("InvitationCodeRequired", "false"),
    option("InvitationCodeMethods", "[\"linuxdo\"]"),
    option("EmailDomainRestrictionEnabled", "false"),
    option("EmailAliasRestrictionEnabled", "false"),
    option(
        "EmailDomainWhitelist",
        "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com",
    ),
    option("GitHubOAuthEnabled", "false"),
    option("GitHubClientId", ""),
    option("GitHubClientSecret", ""),
    option("LinuxDOOAuthEnabled", "false"),
    option("LinuxDOClientId", ""),
    option("LinuxDOClientSecret", ""),
    option("discord.enabled", "false"),
    option("discord.client_id", ""),
    option("discord.client_secret", ""),
    option("TelegramOAuthEnabled", "false"),
    option("TelegramBotName", ""),
    option("TelegramBotToken", ""),
    option("WeChatAuthEnabled", "false"),
    option("WeChatServerAddress", ""),
    option("WeChatServerToken", ""),
    option("WeChatAccountQRCodeImageURL", ""),
    option("TurnstileCheckEnabled", "false"),
    option("TurnstileSiteKey", ""),
    option("TurnstileSecretKey", ""),
    option("oidc.enabled", "false"),
    option("oidc.client_id", ""),
    option("oidc.client_secret", ""),
    option("oidc.well_known", ""),
    option("oidc.authorization_endpoint", ""),
    option("oidc.token_endpoint", ""),
    option("oidc.user_info_endpoint", ""),
    option("passkey.enabled", "false"),
    option("passkey.rp_display_name", ""),
    option("passkey.rp_id", ""),
    option("passkey.origins", ""),
    option("passkey.allow_insecure_origin", "false"),
    option("passkey.user_verification", "preferred"),
    option("passkey.attachment_preference", ""),
    // Mail.
    option("SMTPServer", ""),
    option("SMTPPort", "587"),
    option("SMTPAccount", ""),
    option("SMTPFrom", ""),
    option("SMTPToken", ""),
    option("SMTPSSLEnabled", "false"),
    // Quota and display.
    option("QuotaPerUnit", "500000"),
    option("QuotaForNewUser", "0"),
    option("QuotaForInviter", "0"),
    option("QuotaForInvitee", "0"),
    option("QuotaRemindThreshold", "1000"),
    option("PreConsumedQuota", "500"),
    option("DisplayInCurrencyEnabled", "true"),
    option("DisplayTokenStatEnabled", "true"),
    option("MaxUserTokens", "1000"),
    option("checkin_setting.enabled", "false"),
    option("checkin_setting.min_quota", "1000"),
    option("checkin_setting.max_quota", "10000"),
    option("checkin_setting.timezone", ""),
    // Top-up and payment.
    option("Price", "7.3"),
    option("USDExchangeRate", "7.3"),
    option("MinTopUp", "1"),
    option("PayAddress", ""),
    option("CustomCallbackAddress", ""),
    option("EpayId", ""),
    option("EpayKey", ""),
    option("PayMethods", ""),
    option("TopupGroupRatio", ""),
    option("StripeApiSecret", ""),
    option("StripeWebhookSecret", ""),
    option("StripePriceId", ""),
    option("StripeUnitPrice", "8"),
    option("StripeMinTopUp", "1"),
    option("StripePromotionCodesEnabled", "false"),
    option("WaffoEnabled", "false"),
    option("WaffoSandbox", "false"),
    option("WaffoApiKey", ""),
    option("WaffoPrivateKey", ""),
    option("WaffoPublicCert", ""),
    option("WaffoSandboxApiKey", ""),
    option("WaffoSandboxPrivateKey", ""),
    option("WaffoSandboxPublicCert", ""),
    option("WaffoMerchantId", ""),
    option("WaffoNotifyUrl", ""),
    option("WaffoReturnUrl", ""),
    // Unset: USD.
    option("WaffoCurrency", ""),
    option("WaffoUnitPrice", "1"),
    option("WaffoMinTopUp", "1"),
    option(
        "WaffoPayMethods",
        pylon_shared::payment::waffo::DEFAULT_PAY_METHODS,
    ),
    // Models, groups and pricing.
    option("ModelRatio", ""),
    option("ModelPrice", ""),
    option("CompletionRatio", ""),
    option("CacheRatio", ""),
    option("CreateCacheRatio", ""),
    option("ImageRatio", ""),
    option("ImageCompletionRatio", ""),
    option("AudioRatio", ""),
    option("AudioCompletionRatio", ""),
    option("GroupRatio", ""),
    option("GroupGroupRatio", ""),
    option("UserUsableGroups", ""),
    option("AutoGroups", ""),
    option("DefaultUseAutoGroup", "false"),
    option("ExposeRatioEnabled", "false"),
    option("ModelRequestRateLimitEnabled", "false"),
    option("ModelRequestRateLimitCount", "0"),
    option("ModelRequestRateLimitSuccessCount", "1000"),
    option("ModelRequestRateLimitDurationMinutes", "1"),
    option("ModelRequestRateLimitGroup", ""),
    // Channels and relaying.
    option("RetryTimes", "0"),
    // new-api's channel affinity (sticky routing by session key; see
    // `pylon_shared::channel_affinity`), with its defaults.
    option(affinity::ENABLED, "true"),
    option(affinity::SWITCH_ON_SUCCESS, "true"),
    option(affinity::KEEP_ON_CHANNEL_DISABLED, "false"),
    option(affinity::MAX_ENTRIES, "100000"),
    option(affinity::DEFAULT_TTL_SECONDS, "3600"),
    option(affinity::RULES, affinity::DEFAULT_RULES),
    option("AutomaticDisableChannelEnabled", "false"),
    option("AutomaticEnableChannelEnabled", "false"),
    option("ChannelDisableThreshold", "5"),
    option("LogConsumeEnabled", "true"),
    option("DrawingEnabled", "false"),
    option("BatchUpdateEnabled", "false"),
    option("TaskEnabled", "false"),
    option("MjNotifyEnabled", "false"),
    // new-api's Midjourney relay (`/mj/*`).
    option("MjAccountFilterEnabled", "false"),
    option("MjModeClearEnabled", "false"),
    option("MjForwardUrlEnabled", "true"),
    option("MjActionCheckSuccessEnabled", "true"),
    // new-api's fetch settings (SSRF protection of the URLs Pylon fetches on an upstream's
    // word: `/mj/image/{id}`), with its defaults.
    option(fetch::ENABLE_SSRF_PROTECTION, "true"),
    option(fetch::ALLOW_PRIVATE_IP, "false"),
    option(fetch::DOMAIN_FILTER_MODE, "false"),
    option(fetch::IP_FILTER_MODE, "false"),
    option(fetch::DOMAIN_LIST, "[]"),
    option(fetch::IP_LIST, "[]"),
    option(fetch::ALLOWED_PORTS, fetch::DEFAULT_ALLOWED_PORTS),
    option(fetch::APPLY_IP_FILTER_FOR_DOMAIN, "true"),
    option("CheckSensitiveEnabled", "false"),
    option("CheckSensitiveOnPromptEnabled", "false"),
    option("StopOnSensitiveEnabled", "false"),
    option("SensitiveWords", ""),
    // Model deployments on io.net (`/api/deployments/*`); the key is a credential.
    option("model_deployment.ionet.enabled", "false"),
    option("model_deployment.ionet.api_key", ""),
    // Data export (dashboard).
    option("DataExportEnabled", "true"),
    option("DataExportInterval", "5"),
    option("DataExportDefaultTime", "hour"),
];

/// Options without a default value that hold a number while set.
const NUMBER_OPTIONS: &[&str] = &["LogRetentionDays"];

/// Options whose value is JSON text (their shape is checked where it is used: pricing tables
/// and groups by `PUT /api/option/`, the others by their readers).
const JSON_OPTIONS: &[&str] = &[
    "Chats",
    "PayMethods",
    "WaffoPayMethods",
    "TopupGroupRatio",
    "ModelRatio",
    "ModelPrice",
    "CompletionRatio",
    "CacheRatio",
    "CreateCacheRatio",
    "ImageRatio",
    "ImageCompletionRatio",
    "AudioRatio",
    "AudioCompletionRatio",
    "GroupRatio",
    "GroupGroupRatio",
    "UserUsableGroups",
    "AutoGroups",
    "ModelRequestRateLimitGroup",
    "InvitationCodeMethods",
    "console_setting.api_info",
    "console_setting.announcements",
    "console_setting.faq",
    "console_setting.uptime_kuma_groups",
    affinity::RULES,
    fetch::DOMAIN_LIST,
    fetch::IP_LIST,
    fetch::ALLOWED_PORTS,
];

/// What kind of text an option holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`.
    Switch,
    /// A decimal number (new-api writes `1000` or `1000.0`).
    Number,
    /// A JSON document.
    Json,
    /// Any text.
    Text,
}

impl Known {
    /// The kind of the option: JSON by name, else as its default reads.
    pub fn kind(&self) -> Kind {
        if JSON_OPTIONS.contains(&self.key) {
            Kind::Json
        } else if NUMBER_OPTIONS.contains(&self.key) {
            Kind::Number
        } else if matches!(self.default, "true" | "false") {
            Kind::Switch
        } else if self.default.parse::<f64>().is_ok() {
            Kind::Number
        } else {
            Kind::Text
        }
    }
}

/// Checks a value for `key` before it is stored: a known option must hold its kind (an empty
/// value is accepted for every kind: it reads as unset), and the channel affinity options their
/// shape (rules whose patterns compile, whole numbers); unknown keys are free text, as new-api
/// keeps many.
pub fn check(key: &str, value: &str) -> Result<(), String> {
    let Some(known) = find(key) else {
        return Ok(());
    };
    let value = value.trim();
    if value.is_empty() {
        return Ok(());
    }
    let fits = match known.kind() {
        Kind::Switch => matches!(value, "true" | "false"),
        Kind::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Json => serde_json::from_str::<serde_json::Value>(value).is_ok(),
        Kind::Text => true,
    };
    if fits {
        if key.starts_with("fetch_setting.") {
            let (_, problems) = fetch::FetchSetting::from_options([(key, value)]);
            if let Some(problem) = problems.into_iter().next() {
                return Err(problem);
            }
        }
        return affinity::check(key, value);
    }
    Err(match known.kind() {
        Kind::Switch => format!("{key} must be true or false"),
        Kind::Number => format!("{key} must be a number"),
        _ => format!("{key} must be JSON"),
    })
}

/// The option named `key`, if Pylon knows it.
pub fn find(key: &str) -> Option<&'static Known> {
    OPTIONS.iter().find(|o| o.key == key)
}

/// Whether the option holds a credential and must never be sent back (new-api's rule).
pub fn is_secret(key: &str) -> bool {
    ["Token", "Secret", "Key", "secret", "api_key"]
        .iter()
        .any(|suffix| key.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn keys_are_unique() {
        let keys: BTreeSet<&str> = OPTIONS.iter().map(|o| o.key).collect();
        assert_eq!(keys.len(), OPTIONS.len());
    }

    #[test]
    fn secrets_have_no_default() {
        for option in OPTIONS.iter().filter(|o| is_secret(o.key)) {
            assert_eq!(option.default, "", "{}", option.key);
        }
    }

    #[test]
    fn known_options_hold_their_kind() {
        assert_eq!(find("RegisterEnabled").map(Known::kind), Some(Kind::Switch));
        assert_eq!(find("SMTPPort").map(Known::kind), Some(Kind::Number));
        assert_eq!(find("Chats").map(Known::kind), Some(Kind::Json));
        assert_eq!(find("SystemName").map(Known::kind), Some(Kind::Text));
        assert!(check("RegisterEnabled", "false").is_ok());
        assert!(check("RegisterEnabled", "yes").is_err());
        assert!(check("QuotaForNewUser", "12.5").is_ok());
        assert!(check("QuotaForNewUser", "lots").is_err());
        assert!(check("QuotaForNewUser", "inf").is_err());
        assert!(check("Chats", "[{\"a\": 1}]").is_ok());
        assert!(check("Chats", "{not json").is_err());
        assert!(check("SMTPPort", " ").is_ok());
        assert!(check("SomeFutureOption", "anything").is_ok());
        for option in OPTIONS {
            assert!(check(option.key, option.default).is_ok(), "{}", option.key);
        }
        assert!(check(affinity::RULES, r#"[{"name": "r"}]"#).is_err());
        assert!(check(affinity::MAX_ENTRIES, "-5").is_err());
        assert!(check(fetch::ALLOWED_PORTS, r#"["80", "70000"]"#).is_err());
        assert!(check(fetch::IP_LIST, r#"["10.0.0.0/8"]"#).is_ok());
    }

    #[test]
    fn the_channel_affinity_defaults_are_the_settings() {
        let defaults = OPTIONS
            .iter()
            .filter(|o| o.key.starts_with("channel_affinity_setting."))
            .map(|o| (o.key, o.default));
        let (read, problems) = pylon_shared::channel_affinity::Setting::from_options(defaults);
        assert!(problems.is_empty(), "{problems:?}");
        let default = pylon_shared::channel_affinity::Setting::default();
        assert_eq!(
            (
                read.enabled,
                read.switch_on_success,
                read.keep_on_channel_disabled
            ),
            (
                default.enabled,
                default.switch_on_success,
                default.keep_on_channel_disabled
            )
        );
        assert_eq!(
            (read.max_entries, read.default_ttl, read.rules.len()),
            (
                default.max_entries,
                default.default_ttl,
                default.rules.len()
            )
        );
    }

    #[test]
    fn credentials_are_recognised() {
        assert!(is_secret("GitHubClientSecret"));
        assert!(is_secret("TurnstileSecretKey"));
        assert!(is_secret("TelegramBotToken"));
        assert!(is_secret("stripe.api_key"));
        assert!(is_secret("oidc.client_secret"));
        assert!(!is_secret("ModelRatio"));
        assert!(!is_secret("SystemName"));
    }
}
