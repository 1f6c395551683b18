//! new-api's WeChat and Telegram sign-ins: WeChat through a mock of the operator's WeChat
//! server (which checks its token and single-use codes), Telegram with login widget data
//! signed as Telegram signs it. Sign-up (WeChat only: new-api makes no account for Telegram),
//! sign-in, binding, `/api/status`, and the refusals (a method that is off, a code the server
//! refuses, forged, tampered, expired or replayed widget data, an id bound to someone else,
//! no session) that change nothing.

use pylon_tests::custom_oauth_fixtures::refused_with;
use pylon_tests::social_fixtures::{BOT_NAME, BOT_TOKEN, Scene};
use pylon_tests::social_providers::telegram_widget;
use pylon_tests::{Backend, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

const WECHAT_ID: &str = "SELECT wechat_id FROM users WHERE id = ?";
const TELEGRAM_ID: &str = "SELECT telegram_id FROM users WHERE id = ?";

async fn wechat_sign_in_and_bind(backend: Backend) {
    let scene = Scene::start(backend).await;
    let anonymous = scene.console();

    // Off: refused without asking the WeChat server.
    let code = scene.mock.wechat_code("wx-alice");
    let off = anonymous
        .get(&format!("/api/oauth/wechat?code={code}"))
        .await;
    refused_with(&off, StatusCode::OK, "has not enabled login");
    assert_eq!(scene.mock.wechat_requests(), 0);
    assert_eq!(
        anonymous.get("/api/status").await.data()["wechat_login"],
        json!(false)
    );
    scene.switch("WeChatAuthEnabled", true).await;
    let status = anonymous.get("/api/status").await;
    assert_eq!(status.data()["wechat_login"], json!(true));
    assert_eq!(
        status.data()["wechat_qrcode"],
        json!("https://example.com/qr.png")
    );

    // Sign-up as new-api names it, then sign-in as the same account.
    let mut alice = scene.console();
    let signed_up = alice.get(&format!("/api/oauth/wechat?code={code}")).await;
    assert!(signed_up.success(), "{signed_up:?}");
    let alice_id = signed_up.data()["id"].as_i64().expect("id");
    // new-api's `wechat_{largest id + 1}`.
    let username = signed_up.data()["username"].as_str().unwrap_or("");
    assert!(username.starts_with("wechat_"), "{signed_up:?}");
    assert!(username[7..].parse::<i64>().is_ok(), "{signed_up:?}");
    assert_eq!(signed_up.data()["display_name"], json!("WeChat User"));
    assert_eq!(scene.text_of(WECHAT_ID, alice_id).await, "wx-alice");
    alice.user_id = Some(alice_id);
    assert!(alice.get("/api/user/self").await.success());
    let code = scene.mock.wechat_code("wx-alice");
    let again = scene
        .console()
        .get(&format!("/api/oauth/wechat?code={code}"))
        .await;
    assert_eq!(again.data()["id"], json!(alice_id), "{again:?}");

    // Codes the server refuses (unknown, used, missing), a wrong server token: nothing made.
    let before = scene.footprint().await;
    for query in [
        "code=nope".to_string(),
        format!("code={code}"),
        String::new(),
    ] {
        let answer = anonymous.get(&format!("/api/oauth/wechat?{query}")).await;
        assert!(!answer.success(), "{query}: {answer:?}");
        assert!(!answer.message().is_empty());
    }
    pylon_tests::fixtures::set_option(&scene.root, "WeChatServerToken", "wrong").await;
    let code = scene.mock.wechat_code("wx-bob");
    let answer = anonymous
        .get(&format!("/api/oauth/wechat?code={code}"))
        .await;
    refused_with(&answer, StatusCode::OK, "Unauthorized access token");
    pylon_tests::fixtures::set_option(
        &scene.root,
        "WeChatServerToken",
        pylon_tests::social_fixtures::WECHAT_TOKEN,
    )
    .await;
    assert_eq!(scene.footprint().await, before);

    // Binding, as the signed-in root: the code in a JSON body.
    let root_id = scene.root.user_id.expect("root id");
    let code = scene.mock.wechat_code("wx-root");
    let bound = scene
        .root
        .post("/api/oauth/wechat/bind", json!({ "code": code }))
        .await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(bound.message(), "");
    assert_eq!(scene.text_of(WECHAT_ID, root_id).await, "wx-root");
    // An id someone else holds, a bad body, no session: refused, nothing changes.
    let code = scene.mock.wechat_code("wx-alice");
    let taken = scene
        .root
        .post("/api/oauth/wechat/bind", json!({ "code": code }))
        .await;
    refused_with(&taken, StatusCode::OK, "already bound to another user");
    let malformed = scene.root.post_raw("/api/oauth/wechat/bind", "{code").await;
    refused_with(&malformed, StatusCode::OK, "Invalid parameters");
    let code = scene.mock.wechat_code("wx-carol");
    let anonymous_bind = anonymous
        .post("/api/oauth/wechat/bind", json!({ "code": code }))
        .await;
    assert_eq!(anonymous_bind.status, StatusCode::UNAUTHORIZED);
    assert_eq!(scene.text_of(WECHAT_ID, root_id).await, "wx-root");
    assert_eq!(scene.text_of(WECHAT_ID, alice_id).await, "wx-alice");
    assert_eq!(scene.footprint().await, before);
}
on_every_backend!(wechat_sign_in_and_bind);

async fn telegram_login_and_bind(backend: Backend) {
    let scene = Scene::start(backend).await;
    let anonymous = scene.console();
    let now = chrono::Utc::now().timestamp();
    let login = |query: &str| format!("/api/oauth/telegram/login?{query}");
    let bind = |query: &str| format!("/api/oauth/telegram/bind?{query}");

    let off = anonymous
        .get(&login(&telegram_widget(BOT_TOKEN, 42, "ada", now)))
        .await;
    refused_with(&off, StatusCode::OK, "has not enabled login");
    scene.switch("TelegramOAuthEnabled", true).await;
    let status = anonymous.get("/api/status").await;
    assert_eq!(status.data()["telegram_oauth"], json!(true));
    assert_eq!(status.data()["telegram_bot_name"], json!(BOT_NAME));
    assert!(!status.body.to_string().contains(BOT_TOKEN));

    // Nobody bound the id: new-api makes no account.
    let before = scene.footprint().await;
    let unbound = anonymous
        .get(&login(&telegram_widget(BOT_TOKEN, 42, "ada", now)))
        .await;
    refused_with(&unbound, StatusCode::OK, "not bound");
    assert_eq!(scene.footprint().await, before);

    // Root binds it from the widget's redirect (the session cookie names root) and is sent
    // to the console's personal page.
    let root_id = scene.root.user_id.expect("root id");
    let data = telegram_widget(BOT_TOKEN, 42, "ada", now - 1);
    let (answer, location) = scene.root.navigate(&bind(&data)).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{answer:?}");
    assert_eq!(location.as_deref(), Some("/console/personal"));
    assert_eq!(scene.text_of(TELEGRAM_ID, root_id).await, "42");
    // The same authorization again: refused.
    let (replayed, _) = scene.root.navigate(&bind(&data)).await;
    refused_with(&replayed, StatusCode::OK, "already used");

    // Now the id signs in as root.
    let signed_in = scene
        .console()
        .get(&login(&telegram_widget(BOT_TOKEN, 42, "ada", now - 2)))
        .await;
    assert!(signed_in.success(), "{signed_in:?}");
    assert_eq!(signed_in.data()["id"], json!(root_id));

    // Forged, tampered, expired, replayed or future-dated data; no session; an id bound to
    // someone else: refused, nothing changes.
    let before = scene.footprint().await;
    let fresh = telegram_widget(BOT_TOKEN, 42, "ada", now - 3);
    assert!(anonymous.get(&login(&fresh)).await.success());
    let before = (before.0, before.1 + 1);
    let forged = telegram_widget("another-bot:token", 42, "ada", now - 4);
    let tampered = telegram_widget(BOT_TOKEN, 43, "ada", now - 5).replace("id=43", "id=42");
    let expired = telegram_widget(BOT_TOKEN, 42, "ada", now - 2 * 3600);
    let future = telegram_widget(BOT_TOKEN, 42, "ada", now + 3600);
    let unsigned = format!("id=42&auth_date={now}");
    for (query, expected) in [
        (forged.as_str(), "not authentic"),
        (tampered.as_str(), "not authentic"),
        (unsigned.as_str(), "not authentic"),
        (expired.as_str(), "expired"),
        (future.as_str(), "expired"),
        (fresh.as_str(), "already used"),
    ] {
        let answer = anonymous.get(&login(query)).await;
        refused_with(&answer, StatusCode::OK, expected);
    }
    let (no_session, _) = scene
        .console()
        .navigate(&bind(&telegram_widget(BOT_TOKEN, 77, "eve", now)))
        .await;
    assert_eq!(
        no_session.status,
        StatusCode::UNAUTHORIZED,
        "{no_session:?}"
    );
    let other =
        pylon_tests::fixtures::console_with_role(&scene.pylon, &scene.pool, "other", 1).await;
    let before = (before.0 + 1, before.1 + 1);
    let (taken, _) = other
        .navigate(&bind(&telegram_widget(BOT_TOKEN, 42, "ada", now - 6)))
        .await;
    refused_with(&taken, StatusCode::OK, "already bound to another user");
    let (forged_bind, _) = other.navigate(&bind(&forged)).await;
    refused_with(&forged_bind, StatusCode::OK, "not authentic");
    assert_eq!(
        scene
            .count("SELECT COUNT(*) FROM users WHERE telegram_id <> ''")
            .await,
        1
    );
    assert_eq!(scene.footprint().await, before);
}
on_every_backend!(telegram_login_and_bind);
