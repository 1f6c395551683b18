//! The operator's settings as consoles read them: `GET /api/option/` lists every option with its
//! value (defaults while unset, credentials never), the public texts (`/api/notice`, `/api/about`,
//! `/api/home_page_content`) and `/api/status` with every key new-api sends. The control plane
//! answers from a snapshot that a change through the API updates at once, and that a change
//! written by another process reaches through the change feed.

use pylon_tests::fixtures::{database, root_console, set_option};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn listed(console: &Console) -> serde_json::Map<String, Value> {
    let answer = console.get("/api/option/").await;
    assert!(answer.success(), "{answer:?}");
    answer
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| {
            (
                o["key"].as_str().expect("key").to_string(),
                o["value"].clone(),
            )
        })
        .collect()
}

async fn options_list_defaults_and_hide_credentials(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;

    let fresh = listed(&root).await;
    for (key, default) in [
        ("SystemName", "Pylon"),
        ("Notice", ""),
        ("About", ""),
        ("HomePageContent", ""),
        ("RegisterEnabled", "true"),
        ("EmailVerificationEnabled", "false"),
        ("SMTPPort", "587"),
        ("QuotaPerUnit", "500000"),
        ("MaxUserTokens", "1000"),
        ("DataExportDefaultTime", "hour"),
        // Written by setup.
        ("SelfUseModeEnabled", "false"),
    ] {
        assert_eq!(fresh.get(key), Some(&json!(default)), "{key}");
    }
    assert!(fresh.len() > 100, "only {} options listed", fresh.len());
    for key in fresh.keys() {
        for suffix in ["Token", "Secret", "Key", "secret", "api_key"] {
            assert!(!key.ends_with(suffix), "credential {key} listed");
        }
    }

    // A stored value replaces the default; an unknown key is listed too; a credential never.
    set_option(&root, "SMTPPort", "465").await;
    set_option(&root, "SomeFutureOption", "x").await;
    set_option(&root, "SMTPToken", "hush").await;
    let after = listed(&root).await;
    assert_eq!(after["SMTPPort"], json!("465"));
    assert_eq!(after["SomeFutureOption"], json!("x"));
    assert!(!after.contains_key("SMTPToken"));
    assert!(!after.values().any(|v| v == "hush"));
    assert_eq!(after.len(), fresh.len() + 1);

    // A known option must hold its kind; a refused value changes nothing.
    for (key, value, problem) in [
        (
            "RegisterEnabled",
            "yes",
            "RegisterEnabled must be true or false",
        ),
        (
            "QuotaForNewUser",
            "lots",
            "QuotaForNewUser must be a number",
        ),
        ("SMTPPort", "NaN", "SMTPPort must be a number"),
        ("Chats", "{not json", "Chats must be JSON"),
    ] {
        let answer = root
            .send(
                reqwest::Method::PUT,
                "/api/option/",
                Some(json!({ "key": key, "value": value }).to_string()),
            )
            .await;
        assert!(!answer.success(), "{key}={value} was accepted");
        assert_eq!(
            answer.message(),
            format!("Invalid parameters: {problem}"),
            "{answer:?}"
        );
    }
    assert_eq!(listed(&root).await, after);
}
on_every_backend!(options_list_defaults_and_hide_credentials);

async fn public_texts_and_status(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let anonymous = Console::new(&pylon.base_url);

    for path in ["/api/notice", "/api/about", "/api/home_page_content"] {
        let answer = anonymous.get(path).await;
        assert!(answer.success(), "{path}: {answer:?}");
        assert_eq!(answer.data(), &json!(""), "{path}");
    }
    // A change through the API applies before its answer: no wait.
    for (key, path, text) in [
        ("Notice", "/api/notice", "**Maintenance** at 02:00"),
        ("About", "/api/about", "<p>About us</p>"),
        (
            "HomePageContent",
            "/api/home_page_content",
            "https://example.com/home",
        ),
    ] {
        set_option(&root, key, text).await;
        let answer = anonymous.get(path).await;
        assert!(answer.success(), "{path}: {answer:?}");
        assert_eq!(answer.data(), &json!(text), "{path}");
    }

    set_option(&root, "SystemName", "Relay Co").await;
    set_option(&root, "general_setting.quota_display_type", "CNY").await;
    let status = anonymous.get("/api/status").await;
    assert!(status.success(), "{status:?}");
    let data = status.data();
    // Every key new-api's GetStatus sends (besides the optional panels' contents).
    for key in [
        "version",
        "start_time",
        "email_verification",
        "github_oauth",
        "github_client_id",
        "discord_oauth",
        "discord_client_id",
        "linuxdo_oauth",
        "linuxdo_client_id",
        "linuxdo_minimum_trust_level",
        "telegram_oauth",
        "telegram_bot_name",
        "system_name",
        "logo",
        "footer_html",
        "wechat_qrcode",
        "wechat_login",
        "server_address",
        "turnstile_check",
        "turnstile_site_key",
        "top_up_link",
        "docs_link",
        "quota_per_unit",
        "display_in_currency",
        "quota_display_type",
        "custom_currency_symbol",
        "custom_currency_exchange_rate",
        "enable_batch_update",
        "enable_drawing",
        "enable_task",
        "enable_data_export",
        "data_export_default_time",
        "default_collapse_sidebar",
        "mj_notify_enabled",
        "chats",
        "demo_site_enabled",
        "self_use_mode_enabled",
        "default_use_auto_group",
        "usd_exchange_rate",
        "price",
        "stripe_unit_price",
        "api_info_enabled",
        "uptime_kuma_enabled",
        "announcements_enabled",
        "faq_enabled",
        "HeaderNavModules",
        "SidebarModulesAdmin",
        "oidc_enabled",
        "oidc_client_id",
        "oidc_authorization_endpoint",
        "passkey_login",
        "passkey_display_name",
        "passkey_rp_id",
        "passkey_origins",
        "passkey_allow_insecure",
        "passkey_user_verification",
        "passkey_attachment",
        "setup",
        "user_agreement_enabled",
        "privacy_policy_enabled",
        "checkin_enabled",
    ] {
        assert!(data.get(key).is_some(), "/api/status lacks {key}: {data}");
    }
    assert_eq!(data["system_name"], json!("Relay Co"));
    assert_eq!(data["quota_display_type"], json!("CNY"));
    assert_eq!(data["display_in_currency"], json!(true));
    assert_eq!(data["quota_per_unit"], json!(500_000.0));
    assert_eq!(data["setup"], json!(true));
    assert!(data["chats"].is_array());
}
on_every_backend!(public_texts_and_status);

/// A change written by another process (its row and its change event, as any node writes
/// them) reaches this control plane through the change feed, not by reading options per call.
async fn changes_from_another_process_arrive_by_the_feed(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let anonymous = Console::new(&pylon.base_url);
    assert_eq!(anonymous.get("/api/notice").await.data(), &json!(""));

    sqlx::query("INSERT INTO options (`key`, value) VALUES ('Notice', 'from elsewhere')")
        .execute(&pool)
        .await
        .expect("write the option");
    // Unannounced, it is not read: requests answer from the snapshot (nothing else reloads it).
    assert_eq!(anonymous.get("/api/notice").await.data(), &json!(""));
    sqlx::query("INSERT INTO change_events (topic, entity_id, created_at) VALUES ('option', 0, 0)")
        .execute(&pool)
        .await
        .expect("announce it");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if anonymous.get("/api/notice").await.data() == &json!("from elsewhere") {
            break;
        }
        assert!(Instant::now() < deadline, "the change never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
on_every_backend!(changes_from_another_process_arrive_by_the_feed);
