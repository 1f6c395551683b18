//! `POST /api/option/migrate_console_setting` (new-api's `MigrateConsoleSetting`) on SQLite and
//! on MySQL + Redis, with the control plane served in this process: the console settings of
//! older new-api versions (`ApiInfo`, `Announcements`, `FAQ`, `UptimeKumaUrl`/`Slug`) move to
//! `console_setting.*` in new-api's shapes, `/api/status` shows them, the old keys are gone, a
//! second call changes nothing, and nobody but root may call it.

use pylon_tests::fixtures::set_option;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::{Value, json};
use sqlx::AnyPool;

const MIGRATE: &str = "/api/option/migrate_console_setting";

async fn stored(pool: &AnyPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT `key`, value FROM options WHERE `key` IN ('ApiInfo', 'Announcements', 'FAQ', \
         'UptimeKumaUrl', 'UptimeKumaSlug') OR `key` LIKE 'console_setting.%' ORDER BY `key`",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn console_settings_move_once(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    create_user(&root, "admin1", 10).await;
    let mut admin = Console::new(&plane.base_url);
    admin.login("admin1", PASSWORD).await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&plane.state.config.database.url)
        .await
        .unwrap();

    // Nothing to move: success, nothing written.
    let answer = root.post(MIGRATE, json!({})).await;
    assert!(answer.success(), "{answer:?}");
    assert!(stored(&pool).await.is_empty());

    // An older version's settings, as it stored them.
    let api_info = json!([{"url": "https://api.example.com", "route": "main", "color": "blue",
        "description": "Main line"}]);
    let notices = json!([{"content": "Welcome", "type": "success"}]);
    let faq =
        json!([{"title": "How?", "content": "Like this."}, {"question": "Empty", "answer": ""}]);
    set_option(&root, "ApiInfo", &api_info.to_string()).await;
    set_option(&root, "Announcements", &notices.to_string()).await;
    set_option(&root, "FAQ", &faq.to_string()).await;
    set_option(&root, "UptimeKumaUrl", "https://status.example.com").await;
    set_option(&root, "UptimeKumaSlug", "main").await;
    let before = stored(&pool).await;

    // Only root may move them.
    let refused = admin.post(MIGRATE, json!({})).await;
    assert!(!refused.success(), "{refused:?}");
    assert_eq!(stored(&pool).await, before);

    let answer = root.post(MIGRATE, json!({})).await;
    assert!(answer.success(), "{answer:?}");
    let after = stored(&pool).await;
    let keys: Vec<&str> = after.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "console_setting.announcements",
            "console_setting.api_info",
            "console_setting.faq",
            "console_setting.uptime_kuma_groups",
        ]
    );
    let value = |key: &str| -> Value {
        let text = &after.iter().find(|(k, _)| k == key).unwrap().1;
        serde_json::from_str(text).unwrap()
    };
    assert_eq!(value("console_setting.api_info"), api_info);
    assert_eq!(value("console_setting.announcements"), notices);
    assert_eq!(
        value("console_setting.faq"),
        json!([{"question": "How?", "answer": "Like this."}])
    );
    assert_eq!(
        value("console_setting.uptime_kuma_groups"),
        json!([{"id": 1, "categoryName": "old", "url": "https://status.example.com",
            "slug": "main", "description": ""}])
    );

    // The console reads them at once.
    let status = Console::new(&plane.base_url).get("/api/status").await;
    assert_eq!(status.data()["api_info"], api_info, "{status:?}");
    assert_eq!(
        status.data()["faq"],
        json!([{"question": "How?", "answer": "Like this."}])
    );
    assert_eq!(status.data()["announcements"], notices);

    // A second call finds nothing old and changes nothing.
    let again = root.post(MIGRATE, json!({})).await;
    assert!(again.success(), "{again:?}");
    assert_eq!(stored(&pool).await, after);

    // A list that does not parse is not moved and its key goes, as in new-api; a URL without a
    // slug is not a group.
    set_option(&root, "FAQ", "{\"not\": \"a list\"}").await;
    set_option(&root, "UptimeKumaUrl", "https://other.example.com").await;
    let answer = root.post(MIGRATE, json!({})).await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(stored(&pool).await, after);
}

on_every_backend!(console_settings_move_once);
