//! The signed-in user's own account, as new-api's console drives it: `PUT /api/user/self`
//! (profile, preferences, password change revoking every session and the access token),
//! `DELETE /api/user/self` (soft delete, never the last root), `PUT /api/user/setting`,
//! `GET /api/user/models`, `GET /api/user/self/groups` and `/api/user/groups` (invitations are in
//! `invitation_quota.rs`). Bad input, a missing `New-Api-User` and other users' data change
//! nothing.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{ROOT_PASSWORD, console_with_role, database, root_console, set_option};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyPool;

async fn put(console: &Console, path: &str, body: Value) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

async fn put_raw(console: &Console, path: &str, body: &str) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

/// One integer about the user `id`.
async fn int(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

async fn text(pool: &AnyPool, sql: &'static str, id: i64) -> String {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// A console that authenticates with an access token only.
fn bearer(pylon: &Pylon, token: &str, id: i64) -> Console {
    let mut console = Console::new(&pylon.base_url);
    console.bearer = Some(token.to_string());
    console.user_id = Some(id);
    console
}

async fn logged_in(pylon: &Pylon, username: &str, password: &str) -> Console {
    let mut console = Console::new(&pylon.base_url);
    console.login(username, password).await;
    console
}

async fn profile_and_password(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.expect("id");
    let other_session = logged_in(&pylon, "alice", ROOT_PASSWORD).await;
    let token = alice
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .expect("token")
        .to_string();
    let by_token = bearer(&pylon, &token, id);
    assert!(by_token.get("/api/user/self").await.success());
    let quota = int(&pool, "SELECT quota FROM users WHERE id = ?", id).await;

    // Only the fields a user may change change; role, quota, group, email are ignored.
    let answer = put(
        &alice,
        "/api/user/self",
        json!({"display_name": "Alice A", "role": 100, "quota": 999_999_999, "group": "vip",
               "email": "x@example.com", "aff_quota": 5}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let me = alice.get("/api/user/self").await;
    assert_eq!(me.data()["display_name"], "Alice A");
    assert_eq!(me.data()["role"], 1);
    assert_eq!(me.data()["group"], "default");
    assert_eq!(me.data()["quota"], quota);
    assert_eq!(me.data()["email"], "");
    assert_eq!(me.data()["aff_quota"], 0);

    // Bad input is refused and changes nothing.
    for (body, expected) in [
        (r#"{"display_name": "#, "Invalid parameters"),
        (r#"{"display_name": 5}"#, "Invalid parameters"),
        (r#"[1, 2]"#, "Invalid parameters"),
        (
            r#"{"display_name": "aaaaaaaaaaaaaaaaaaaaa"}"#,
            "Display name",
        ),
        (r#"{"username": "has space"}"#, "Username"),
        (r#"{"username": "root"}"#, "already exists"),
        (r#"{"sidebar_modules": {"chat": true}}"#, "sidebar_modules"),
        (r#"{"sidebar_modules": "not json"}"#, "sidebar_modules"),
    ] {
        let answer = put_raw(&alice, "/api/user/self", body).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.success(), "{body} accepted");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
    let me = alice.get("/api/user/self").await;
    assert_eq!(me.data()["display_name"], "Alice A");
    assert_eq!(me.data()["username"], "alice");

    // A rename is possible; the name is then taken.
    assert!(
        put(&alice, "/api/user/self", json!({"username": "alice2"}))
            .await
            .success()
    );
    assert_eq!(
        alice.get("/api/user/self").await.data()["username"],
        "alice2"
    );
    assert!(
        put(&alice, "/api/user/self", json!({"username": "alice"}))
            .await
            .success()
    );

    // Preferences go to the settings.
    let modules = r#"{"chat":{"enabled":false}}"#;
    let answer = put(
        &alice,
        "/api/user/self",
        json!({"sidebar_modules": modules, "language": "en"}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let me = alice.get("/api/user/self").await;
    assert_eq!(me.data()["sidebar_modules"], modules);
    let setting: Value = serde_json::from_str(me.data()["setting"].as_str().unwrap()).unwrap();
    assert_eq!(setting["language"], "en");

    // Without New-Api-User nothing happens.
    let mut anonymous_header = logged_in(&pylon, "alice", ROOT_PASSWORD).await;
    anonymous_header.user_id = None;
    let answer = put(
        &anonymous_header,
        "/api/user/self",
        json!({"display_name": "nope"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.message().contains("New-Api-User"));
    assert_eq!(
        alice.get("/api/user/self").await.data()["display_name"],
        "Alice A"
    );

    // A wrong original password, a missing one, or a too-short new one: refused, nothing revoked.
    let new_password = "brand-new-password-1";
    for body in [
        json!({"password": new_password, "original_password": "wrong-password"}),
        json!({"password": new_password}),
        json!({"password": "short", "original_password": ROOT_PASSWORD}),
    ] {
        let answer = put(&alice, "/api/user/self", body.clone()).await;
        assert!(!answer.success(), "{body} accepted");
    }
    assert!(other_session.get("/api/user/self").await.success());
    assert!(by_token.get("/api/user/self").await.success());

    // The change revokes every other session and the access token; the caller stays in.
    let answer = put(
        &alice,
        "/api/user/self",
        json!({"password": new_password, "original_password": ROOT_PASSWORD}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    assert!(alice.get("/api/user/self").await.success());
    assert_eq!(
        other_session.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        by_token.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM sessions WHERE user_id = ?", id).await,
        1
    );
    let old = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({"username": "alice", "password": ROOT_PASSWORD}),
        )
        .await;
    assert!(!old.success());
    logged_in(&pylon, "alice", new_password).await;

    // A caller authenticated by access token is logged out by its own change.
    let token = alice
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .unwrap()
        .to_string();
    let by_token = bearer(&pylon, &token, id);
    let answer = put(
        &by_token,
        "/api/user/self",
        json!({"password": ROOT_PASSWORD, "original_password": new_password}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(
        by_token.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        alice.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    logged_in(&pylon, "alice", ROOT_PASSWORD).await;
}
on_every_backend!(profile_and_password);

async fn delete_self(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;

    // The only root cannot delete itself.
    let answer = root.send(Method::DELETE, "/api/user/self", None).await;
    assert!(!answer.success());
    assert!(answer.message().contains("last root"), "{answer:?}");
    assert!(root.get("/api/user/self").await.success());

    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let bob_id = bob.user_id.unwrap();
    let token = bob
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .unwrap()
        .to_string();
    let bob_elsewhere = logged_in(&pylon, "bob", ROOT_PASSWORD).await;
    let mut no_header = logged_in(&pylon, "bob", ROOT_PASSWORD).await;
    no_header.user_id = None;
    assert_eq!(
        no_header
            .send(Method::DELETE, "/api/user/self", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert!(bob.get("/api/user/self").await.success());

    let answer = bob.send(Method::DELETE, "/api/user/self", None).await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM users WHERE id = ? AND deleted_at IS NOT NULL",
            bob_id
        )
        .await,
        1
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM sessions WHERE user_id = ?",
            bob_id
        )
        .await,
        0
    );
    assert_eq!(
        bob_elsewhere.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer(&pylon, &token, bob_id)
            .get("/api/user/self")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let login = Console::new(&pylon.base_url)
        .post(
            "/api/user/login",
            json!({"username": "bob", "password": ROOT_PASSWORD}),
        )
        .await;
    assert!(!login.success());

    // With a second root, either may go, but not both.
    let second = console_with_role(&pylon, &pool, "root2", 100).await;
    assert!(
        second
            .send(Method::DELETE, "/api/user/self", None)
            .await
            .success()
    );
    let answer = root.send(Method::DELETE, "/api/user/self", None).await;
    assert!(!answer.success());
    assert!(root.get("/api/user/self").await.success());
}
on_every_backend!(delete_self);

async fn notification_settings(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.unwrap();
    let modules = r#"{"chat":{"enabled":true}}"#;
    assert!(
        put(
            &alice,
            "/api/user/self",
            json!({"sidebar_modules": modules})
        )
        .await
        .success()
    );
    let stored = || text(&pool, "SELECT setting FROM users WHERE id = ?", id);
    let before = stored().await;

    for (body, expected) in [
        (
            json!({"notify_type": "sms", "quota_warning_threshold": 10}),
            "notify_type",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": 0}),
            "threshold",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": -5}),
            "threshold",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": 1, "notification_email": "nope"}),
            "email",
        ),
        (
            json!({"notify_type": "webhook", "quota_warning_threshold": 1}),
            "Webhook URL",
        ),
        (
            json!({"notify_type": "webhook", "quota_warning_threshold": 1, "webhook_url": "ftp://x.example"}),
            "Webhook URL",
        ),
        (
            json!({"notify_type": "bark", "quota_warning_threshold": 1, "bark_url": "not a url"}),
            "Bark URL",
        ),
        (
            json!({"notify_type": "gotify", "quota_warning_threshold": 1, "gotify_url": "https://g.example"}),
            "Gotify token",
        ),
        (
            json!({"notify_type": "email", "quota_warning_threshold": "high"}),
            "Invalid parameters",
        ),
    ] {
        let answer = put(&alice, "/api/user/setting", body.clone()).await;
        assert!(!answer.success(), "{body} accepted");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
    let answer = put_raw(&alice, "/api/user/setting", "{\"notify_type\": ").await;
    assert!(answer.message().contains("Invalid parameters"));
    assert_eq!(stored().await, before);

    // A webhook with its secret; other settings are kept; an ordinary user cannot opt into the
    // administrators' upstream notices.
    let answer = put(
        &alice,
        "/api/user/setting",
        json!({"notify_type": "webhook", "quota_warning_threshold": 500000.5,
               "webhook_url": "https://hooks.example.com/pylon", "webhook_secret": "s3cret",
               "record_ip_log": true, "upstream_model_update_notify_enabled": true}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let setting: Value = serde_json::from_str(&stored().await).unwrap();
    assert_eq!(setting["notify_type"], "webhook");
    assert_eq!(setting["quota_warning_threshold"], 500000.5);
    assert_eq!(setting["webhook_url"], "https://hooks.example.com/pylon");
    assert_eq!(setting["webhook_secret"], "s3cret");
    assert_eq!(setting["record_ip_log"], true);
    assert_eq!(setting["sidebar_modules"], modules);
    assert!(
        setting
            .get("upstream_model_update_notify_enabled")
            .is_none()
    );

    // Switching to gotify drops the webhook fields; priorities outside 0..=10 become 5.
    let answer = put(
        &alice,
        "/api/user/setting",
        json!({"notify_type": "gotify", "quota_warning_threshold": 1, "gotify_url": "https://g.example",
               "gotify_token": "tok", "gotify_priority": 42}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let setting: Value = serde_json::from_str(&stored().await).unwrap();
    assert_eq!(setting["gotify_priority"], 5);
    assert!(setting.get("webhook_url").is_none());
    assert_eq!(setting["sidebar_modules"], modules);

    // An administrator may.
    let answer = put(
        &root,
        "/api/user/setting",
        json!({"notify_type": "email", "quota_warning_threshold": 1,
               "upstream_model_update_notify_enabled": true}),
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let root_setting: Value =
        serde_json::from_str(&text(&pool, "SELECT setting FROM users WHERE id = ?", 1).await)
            .unwrap();
    assert_eq!(root_setting["upstream_model_update_notify_enabled"], true);
    // Alice's settings were not touched by root's save.
    assert_eq!(
        serde_json::from_str::<Value>(&stored().await).unwrap()["notify_type"],
        "gotify"
    );
}
on_every_backend!(notification_settings);

async fn ability(pool: &AnyPool, group: &str, model: &str, channel: i64, enabled: i64) {
    sqlx::query(
        "INSERT INTO abilities (`group`, model, channel_id, enabled, priority, weight, tag) \
         VALUES (?, ?, ?, ?, 0, 0, '')",
    )
    .bind(group)
    .bind(model)
    .bind(channel)
    .bind(enabled)
    .execute(pool)
    .await
    .expect("ability");
}

async fn models_and_groups(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    ability(&pool, "default", "m-default", 900, 1).await;
    ability(&pool, "default", "m-shared", 900, 1).await;
    ability(&pool, "vip", "m-shared", 901, 1).await;
    ability(&pool, "vip", "m-vip", 901, 1).await;
    ability(&pool, "svip", "m-svip", 902, 1).await;
    ability(&pool, "default", "m-off", 903, 0).await;

    // Nothing priced: only the user's own group.
    let groups = alice.get("/api/user/self/groups").await;
    assert!(groups.success(), "{groups:?}");
    assert_eq!(
        groups.data(),
        &json!({"default": {"ratio": 1.0, "desc": "默认分组"}})
    );
    let models = alice.get("/api/user/models").await;
    assert_eq!(models.data(), &json!(["m-default", "m-shared"]));

    set_option(
        &root,
        "GroupRatio",
        r#"{"default": 1, "vip": 2, "svip": 3}"#,
    )
    .await;
    set_option(
        &root,
        "UserUsableGroups",
        r#"{"default": "Default", "vip": "VIP", "auto": "Auto"}"#,
    )
    .await;
    set_option(&root, "GroupGroupRatio", r#"{"default": {"vip": 1.5}}"#).await;
    let groups = alice.get("/api/user/self/groups").await;
    assert_eq!(
        groups.data(),
        &json!({
            "default": {"ratio": 1.0, "desc": "Default"},
            "vip": {"ratio": 1.5, "desc": "VIP"},
            "auto": {"ratio": "自动", "desc": "Auto"},
        })
    );
    assert_eq!(
        alice.get("/api/user/models").await.data(),
        &json!(["m-default", "m-shared", "m-vip"])
    );
    assert_eq!(
        alice.get("/api/user/models?group=vip").await.data(),
        &json!(["m-shared", "m-vip"])
    );
    assert_eq!(
        alice.get("/api/user/models?group=svip").await.data(),
        &json!([])
    );
    assert_eq!(
        alice.get("/api/user/models?group=auto").await.data(),
        &json!(["m-default", "m-shared"])
    );

    // Before login: the groups every user starts from, with their plain ratios.
    let public = Console::new(&pylon.base_url).get("/api/user/groups").await;
    assert!(public.success(), "{public:?}");
    assert_eq!(public.data()["vip"], json!({"ratio": 2.0, "desc": "VIP"}));
    assert_eq!(
        alice.get("/api/user/groups").await.data()["vip"]["ratio"],
        1.5
    );

    // Special rules for the user's group.
    set_option(
        &root,
        "group_ratio_setting.group_special_usable_group",
        r#"{"default": {"-:vip": "", "+:svip": "Super"}}"#,
    )
    .await;
    let groups = alice.get("/api/user/self/groups").await;
    assert!(groups.data().get("vip").is_none(), "{groups:?}");
    assert_eq!(
        groups.data()["svip"],
        json!({"ratio": 3.0, "desc": "Super"})
    );
    assert_eq!(
        alice.get("/api/user/models").await.data(),
        &json!(["m-default", "m-shared", "m-svip"])
    );

    // A group of another user is the other user's business.
    sqlx::query("UPDATE users SET `group` = 'vip' WHERE username = 'alice'")
        .execute(&pool)
        .await
        .unwrap();
    let groups = alice.get("/api/user/self/groups").await;
    assert!(groups.data().get("svip").is_none(), "{groups:?}");
    assert!(groups.data().get("vip").is_some(), "{groups:?}");

    let mut no_header = logged_in(&pylon, "alice", ROOT_PASSWORD).await;
    no_header.user_id = None;
    assert_eq!(
        no_header.get("/api/user/models").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        no_header.get("/api/user/self/groups").await.status,
        StatusCode::UNAUTHORIZED
    );
}
on_every_backend!(models_and_groups);
