//! `GET /api/status` as new-api's consoles read it (issue 13), on SQLite and on MySQL + Redis,
//! with the control plane served in this process: the console panels follow their
//! `console_setting.*` switches and carry their lists, the legal texts switch their flags and
//! are served by their own routes, and every value has new-api's type.

use pylon_tests::fixtures::set_option;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::{Value, json};

async fn status(console: &Console) -> Value {
    let answer = console.get("/api/status").await;
    assert!(answer.success(), "{answer:?}");
    answer.data().clone()
}

async fn status_follows_the_console_settings(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let anonymous = Console::new(&plane.base_url);

    let data = status(&anonymous).await;
    for (key, expected) in [
        ("api_info_enabled", json!(true)),
        ("api_info", json!([])),
        ("faq_enabled", json!(true)),
        ("faq", json!([])),
        ("uptime_kuma_enabled", json!(true)),
        ("announcements_enabled", json!(false)),
        ("user_agreement_enabled", json!(false)),
        ("privacy_policy_enabled", json!(false)),
        ("invitation_code_required", json!(false)),
        ("invitation_code_methods", json!(["linuxdo"])),
        ("linuxdo_minimum_trust_level", json!(0)),
        ("github_oauth", json!(false)),
        ("setup", json!(true)),
    ] {
        assert_eq!(data[key], expected, "{key} in {data}");
    }
    assert!(data.get("announcements").is_none(), "{data}");
    assert!(data["start_time"].is_i64(), "{data}");
    assert!(data["version"].is_string(), "{data}");
    for key in [
        "quota_per_unit",
        "usd_exchange_rate",
        "price",
        "stripe_unit_price",
    ] {
        assert!(data[key].is_number(), "{key} in {data}");
    }

    let api_info = json!([{"id": 1, "url": "https://api.example.com", "route": "main",
        "description": "Main line", "color": "blue"}]);
    set_option(&root, "console_setting.api_info", &api_info.to_string()).await;
    set_option(&root, "console_setting.faq_enabled", "false").await;
    let notices = json!([{"id": 1, "content": "Welcome", "publishDate": "2026-01-01T00:00:00Z",
        "type": "success", "extra": ""}]);
    set_option(&root, "console_setting.announcements", &notices.to_string()).await;
    set_option(&root, "legal.user_agreement", "Be nice").await;
    set_option(&root, "LinuxDOMinimumTrustLevel", "2").await;
    let data = status(&anonymous).await;
    assert_eq!(data["api_info"], api_info);
    assert_eq!(data["faq_enabled"], json!(false));
    assert!(data.get("faq").is_none(), "{data}");
    assert_eq!(data["announcements_enabled"], json!(true));
    assert_eq!(data["announcements"], notices);
    assert_eq!(data["user_agreement_enabled"], json!(true));
    assert_eq!(data["privacy_policy_enabled"], json!(false));
    assert_eq!(data["linuxdo_minimum_trust_level"], json!(2));
    assert_eq!(
        anonymous.get("/api/user-agreement").await.data(),
        &json!("Be nice")
    );
    assert_eq!(
        anonymous.get("/api/privacy-policy").await.data(),
        &json!("")
    );

    // Pylon's own announcements join the list; the switch hides them all.
    let created = root
        .post(
            "/api/announcements",
            json!({"title": "Maintenance", "content": "Sunday"}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let data = status(&anonymous).await;
    let items = data["announcements"].as_array().expect("announcements");
    assert_eq!(items.len(), 2, "{data}");
    assert!(items[1]["content"].as_str().unwrap().contains("Sunday"));
    assert!(items[1]["publishDate"].as_str().unwrap().contains('T'));
    set_option(&root, "console_setting.announcements_enabled", "false").await;
    let data = status(&anonymous).await;
    assert_eq!(data["announcements_enabled"], json!(false));
    assert!(data.get("announcements").is_none(), "{data}");

    // A list that is no JSON list reads as empty, never an error.
    set_option(&root, "console_setting.api_info", "{\"not\": \"a list\"}").await;
    assert_eq!(status(&anonymous).await["api_info"], json!([]));
}

on_every_backend!(status_follows_the_console_settings);
