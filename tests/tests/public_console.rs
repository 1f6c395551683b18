//! Seed 001's public console data and announcements, on SQLite and on MySQL + Redis, through
//! the control plane served in this process: administrators manage announcements (bad input is
//! refused and changes nothing, common users are refused), everyone reads the enabled ones in
//! order, `/api/status` reports whether any is shown; `/api/public/settings` answers the site's
//! settings and `/api/public/models` the models enabled public channels serve, with prices.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::set_option;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user, delete, put, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::{Value, json};

async fn root(plane: &InProcess) -> Console {
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    root
}

/// The titles of a list answer, in order.
fn titles(answer: &Answer) -> Vec<String> {
    assert!(answer.success(), "{answer:?}");
    answer
        .data()
        .as_array()
        .unwrap_or_else(|| panic!("a list: {answer:?}"))
        .iter()
        .map(|a| a["title"].as_str().expect("title").to_string())
        .collect()
}

async fn announcements_enabled(anonymous: &Console) -> Value {
    let status = anonymous.get("/api/status").await;
    assert!(status.success(), "{status:?}");
    status.data()["announcements_enabled"].clone()
}

async fn announcements_are_managed_and_shown(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let anonymous = Console::new(&plane.base_url);
    assert_eq!(announcements_enabled(&anonymous).await, json!(false));
    assert!(titles(&anonymous.get("/api/public/announcements").await).is_empty());

    let created = root
        .post(
            "/api/announcements",
            json!({"title": "Maintenance", "content": "Sunday 02:00 UTC", "sort_order": 2}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let maintenance = created.data()["id"].as_i64().expect("id");
    assert_eq!(created.data()["enabled"], json!(true), "enabled by default");
    assert_eq!(created.data()["sort_order"], json!(2));
    assert!(
        created.data()["created_at"]
            .as_str()
            .is_some_and(|t| t.contains('T')),
        "{created:?}"
    );
    let welcome = root
        .post(
            "/api/announcements",
            json!({"title": "Welcome", "content": "Hello", "sort_order": 1}),
        )
        .await;
    let welcome = welcome.data()["id"].as_i64().expect("id");
    let draft = root
        .post(
            "/api/announcements",
            json!({"title": "Draft", "content": "Not yet", "enabled": false}),
        )
        .await;
    let draft = draft.data()["id"].as_i64().expect("id");

    // Everyone sees the enabled ones, lower sort_order first; administrators see all.
    let public = anonymous.get("/api/public/announcements").await;
    assert_eq!(titles(&public), ["Welcome", "Maintenance"]);
    let first = &public.data()[0];
    for field in [
        "id",
        "title",
        "content",
        "enabled",
        "sort_order",
        "created_at",
        "updated_at",
    ] {
        assert!(first.get(field).is_some(), "{field} in {first}");
    }
    assert_eq!(
        titles(&root.get("/api/announcements").await),
        ["Draft", "Welcome", "Maintenance"]
    );
    assert_eq!(announcements_enabled(&anonymous).await, json!(true));

    // Bad input is refused and changes nothing.
    let before = root.get("/api/announcements").await.body;
    for (body, reason) in [
        (json!({"title": "", "content": "x"}), "title"),
        (json!({"title": "   ", "content": "x"}), "title"),
        (json!({"title": "t".repeat(256), "content": "x"}), "title"),
        (json!({"title": "No content"}), "content"),
        (
            json!({"title": "Big", "content": "x".repeat(65_536)}),
            "content",
        ),
        (
            json!({"title": "T", "content": "x", "enabled": "yes"}),
            "Invalid parameters",
        ),
        (
            json!({"title": "T", "content": "x", "sort_order": "first"}),
            "Invalid parameters",
        ),
    ] {
        refused(&root.post("/api/announcements", body.clone()).await, reason);
    }
    refused(
        &put(
            &root,
            &format!("/api/announcements/{welcome}"),
            json!({"title": ""}),
        )
        .await,
        "title",
    );
    refused(
        &put(
            &root,
            "/api/announcements/999999",
            json!({"title": "Ghost"}),
        )
        .await,
        "not found",
    );
    refused(
        &delete(&root, "/api/announcements/999999").await,
        "not found",
    );
    assert_eq!(root.get("/api/announcements").await.body, before);

    // Common users and anonymous callers cannot manage them.
    create_user(&root, "reader", 1).await;
    let mut reader = Console::new(&plane.base_url);
    reader.login("reader", PASSWORD).await;
    refused(
        &reader
            .post(
                "/api/announcements",
                json!({"title": "Mine", "content": "x"}),
            )
            .await,
        "insufficient privileges",
    );
    refused(
        &delete(&reader, &format!("/api/announcements/{welcome}")).await,
        "insufficient",
    );
    assert_eq!(
        anonymous.get("/api/announcements").await.status,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(root.get("/api/announcements").await.body, before);

    // A partial update changes only what it names; publishing and withdrawing show at once.
    let edited = put(
        &root,
        &format!("/api/announcements/{draft}"),
        json!({"enabled": true, "sort_order": 0}),
    )
    .await;
    assert!(edited.success(), "{edited:?}");
    assert_eq!(
        (
            edited.data()["title"].clone(),
            edited.data()["content"].clone()
        ),
        (json!("Draft"), json!("Not yet"))
    );
    assert_eq!(
        titles(&anonymous.get("/api/public/announcements").await),
        ["Draft", "Welcome", "Maintenance"]
    );
    let withdrawn = put(
        &root,
        &format!("/api/announcements/{maintenance}"),
        json!({"enabled": false}),
    )
    .await;
    assert!(withdrawn.success(), "{withdrawn:?}");
    assert_eq!(
        titles(&anonymous.get("/api/public/announcements").await),
        ["Draft", "Welcome"]
    );

    // Deleted ones are gone; with none shown, the status says so.
    for id in [draft, welcome, maintenance] {
        let deleted = delete(&root, &format!("/api/announcements/{id}")).await;
        assert!(deleted.success(), "{deleted:?}");
    }
    assert!(titles(&root.get("/api/announcements").await).is_empty());
    assert_eq!(announcements_enabled(&anonymous).await, json!(false));
}
on_every_backend!(announcements_are_managed_and_shown);

fn channel(name: &str, models: &str, group: &str) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": "http://127.0.0.1:9/",
        "models": models, "group": group, "priority": 0, "weight": 0,
    })
}

/// The entry of `model` in a `/api/public/models` answer, if listed.
fn listed<'a>(answer: &'a Answer, model: &str) -> Option<&'a Value> {
    answer
        .data()
        .as_array()
        .and_then(|models| models.iter().find(|m| m["model_name"] == json!(model)))
}

async fn public_settings_and_models(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let anonymous = Console::new(&plane.base_url);

    set_option(&root, "SystemName", "Pylon Test Site").await;
    set_option(&root, "RegisterEnabled", "false").await;
    let settings = anonymous.get("/api/public/settings").await;
    assert!(settings.success(), "{settings:?}");
    let s = settings.data();
    assert_eq!(s["site_name"], json!("Pylon Test Site"));
    assert_eq!(s["registration_enabled"], json!(false));
    assert_eq!(s["password_login_enabled"], json!(true));
    assert_eq!(s["login_methods"], json!(["password"]));
    assert_eq!(s["oidc_enabled"], json!(false));
    assert_eq!(s["pricing_endpoint_enabled"], json!(true));
    assert_eq!(s["status_page_enabled"], json!(false));

    let empty = anonymous.get("/api/public/models").await;
    assert_eq!(empty.data(), &json!([]), "{empty:?}");
    let serving = root.post(
        "/api/channel/",
        json!({"mode": "single", "channel": channel("open", "gpt-4o-mini,dall-e-3", "default")}),
    );
    assert!(serving.await.success());
    for (name, models, group) in [
        ("hidden", "secret-model", "staff"),
        ("off", "retired-model", "default"),
    ] {
        let created = root
            .post(
                "/api/channel/",
                json!({"mode": "single", "channel": channel(name, models, group)}),
            )
            .await;
        assert!(created.success(), "{created:?}");
    }
    let channels = root.get("/api/channel/?p=1&page_size=100").await;
    let off = channels.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["name"] == json!("off")))
        .and_then(|c| c["id"].as_i64())
        .expect("channel off listed");
    plane
        .state
        .db
        .set_channel_status(off, pylon_shared::db::CHANNEL_MANUALLY_DISABLED, "")
        .await
        .expect("disable");

    let models = anonymous.get("/api/public/models").await;
    assert!(models.success(), "{models:?}");
    // gpt-4o-mini's default price: ratio 0.075 (0.15 USD per million), completion 4, cache 0.5.
    let mini = listed(&models, "gpt-4o-mini").unwrap_or_else(|| panic!("{models:?}"));
    assert_eq!(mini["quota_type"], json!(0));
    assert_eq!(mini["input_price"], json!(0.15));
    assert_eq!(mini["output_price"], json!(0.6));
    assert_eq!(mini["cached_input_price"], json!(0.075));
    assert_eq!(mini["groups"], json!(["default"]));
    let dalle = listed(&models, "dall-e-3").expect("dall-e-3 listed");
    assert_eq!(
        (dalle["quota_type"].clone(), dalle["model_price"].clone()),
        (json!(1), json!(0.04))
    );
    assert!(
        listed(&models, "secret-model").is_none(),
        "a private group's model: {models:?}"
    );
    assert!(
        listed(&models, "retired-model").is_none(),
        "a disabled channel's model: {models:?}"
    );

    // The operator's price is what the catalogue shows.
    set_option(&root, "ModelRatio", r#"{"gpt-4o-mini": 1.5}"#).await;
    let models = anonymous.get("/api/public/models").await;
    assert_eq!(
        listed(&models, "gpt-4o-mini").expect("listed")["input_price"],
        json!(3.0)
    );
}
on_every_backend!(public_settings_and_models);
