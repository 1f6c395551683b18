//! The option (settings) API through port 3000 as new-api's console uses it: root sets and reads
//! options (strings, numbers, bools, JSON), credentials are never listed, pricing tables are
//! checked before they are stored, every change reaches the change feed, and nobody but root
//! (not an admin, not a common user) may read or write them.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{ROOT_PASSWORD, console_with_role, database};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyPool;

async fn put_option(console: &Console, body: Value) -> Answer {
    console
        .send(Method::PUT, "/api/option/", Some(body.to_string()))
        .await
}

/// The options as listed, as a key -> value map.
async fn listed(console: &Console) -> serde_json::Map<String, Value> {
    let answer = console.get("/api/option/").await;
    assert!(answer.success(), "{answer:?}");
    answer
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["key"].as_str().unwrap().to_string(), o["value"].clone()))
        .collect()
}

async fn stored(pool: &AnyPool, key: &str) -> Option<String> {
    sqlx::query_scalar("SELECT value FROM options WHERE `key` = ?")
        .bind(key)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn option_events(pool: &AnyPool) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM change_events WHERE topic = 'option' AND entity_id = 0",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn options_round_trip(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let mut root = Console::new(&pylon.base_url);
    root.setup_root("root", ROOT_PASSWORD).await;
    root.login("root", ROOT_PASSWORD).await;

    // Values of every JSON kind are stored as new-api stores them.
    for (key, value, text) in [
        ("SystemName", json!("Pylon Test"), "Pylon Test"),
        ("QuotaPerUnit", json!(500000), "500000"),
        ("PreConsumedQuota", json!(2.0), "2"),
        ("TopUpRatio", json!(0.25), "0.25"),
        ("RegisterEnabled", json!(false), "false"),
        ("AutomaticDisableChannelEnabled", json!(true), "true"),
        (
            "ModelRatio",
            json!("{\"gpt-4o\": 1.25, \"free-model\": 0}"),
            "{\"gpt-4o\": 1.25, \"free-model\": 0}",
        ),
        (
            "GroupRatio",
            json!({"default": 1, "vip": 0.5}),
            "{\"default\":1,\"vip\":0.5}",
        ),
        ("SomeFutureOption", json!("anything"), "anything"),
    ] {
        let answer = put_option(&root, json!({"key": key, "value": value})).await;
        assert!(answer.success(), "{key}: {answer:?}");
        assert_eq!(stored(&pool, key).await.as_deref(), Some(text), "{key}");
    }
    let options = listed(&root).await;
    assert_eq!(options["SystemName"], json!("Pylon Test"));
    assert_eq!(options["RegisterEnabled"], json!("false"));
    assert_eq!(options["PreConsumedQuota"], json!("2"));
    assert_eq!(options["GroupRatio"], json!("{\"default\":1,\"vip\":0.5}"));
    // An option can be overwritten.
    assert!(
        put_option(&root, json!({"key": "SystemName", "value": "Renamed"}))
            .await
            .success()
    );
    assert_eq!(listed(&root).await["SystemName"], json!("Renamed"));
    // Without the trailing slash too.
    assert!(root.get("/api/option").await.success());

    // Credentials are stored but never listed.
    for key in [
        "GitHubClientSecret",
        "TelegramBotToken",
        "TurnstileSecretKey",
        "stripe.api_key",
    ] {
        assert!(
            put_option(&root, json!({"key": key, "value": "hush"}))
                .await
                .success()
        );
        assert_eq!(stored(&pool, key).await.as_deref(), Some("hush"));
    }
    let options = listed(&root).await;
    assert!(options.keys().all(|k| !k.ends_with("Secret")
        && !k.ends_with("Token")
        && !k.ends_with("Key")
        && !k.ends_with("api_key")));
    assert!(!options.values().any(|v| v == "hush"));

    // Every change is on the change feed.
    let events = option_events(&pool).await;
    assert!(events >= 14, "{events} option events");

    // Bad pricing tables and bad requests are refused and change nothing.
    let ratio_before = stored(&pool, "ModelRatio").await;
    for (body, expected) in [
        (
            json!({"key": "ModelRatio", "value": "{not json"}),
            "ModelRatio",
        ),
        (
            json!({"key": "ModelRatio", "value": "{\"gpt-4o\": -1}"}),
            "non-negative",
        ),
        (
            json!({"key": "ModelRatio", "value": "[1, 2]"}),
            "ModelRatio",
        ),
        (
            json!({"key": "CompletionRatio", "value": "{\"gpt-4o\": \"2\"}"}),
            "CompletionRatio",
        ),
        (json!({"key": "ModelPrice", "value": ""}), "ModelPrice"),
        (
            json!({"key": "GroupRatio", "value": {"vip": -0.5}}),
            "GroupRatio",
        ),
        (json!({"key": "CacheRatio", "value": 3}), "CacheRatio"),
        (json!({"key": "", "value": "x"}), "key is empty"),
        (json!({"value": "x"}), "key is empty"),
        (json!({"key": "SystemName"}), "value is missing"),
        (
            json!({"key": "SystemName", "value": null}),
            "value is missing",
        ),
        (json!({"key": 5, "value": "x"}), "Invalid parameters"),
        (json!({"key": "x".repeat(129), "value": "x"}), "longer than"),
    ] {
        let answer = put_option(&root, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.success(), "{body} was accepted");
        assert!(
            answer.message().contains(expected),
            "{body}: {answer:?} should mention {expected}"
        );
    }
    let malformed = root
        .send(Method::PUT, "/api/option/", Some("{\"key\":".into()))
        .await;
    assert!(
        malformed.message().starts_with("Invalid parameters"),
        "{malformed:?}"
    );
    assert_eq!(stored(&pool, "ModelRatio").await, ratio_before);
    assert_eq!(
        stored(&pool, "GroupRatio").await.as_deref(),
        Some("{\"default\":1,\"vip\":0.5}")
    );
    assert_eq!(stored(&pool, "CacheRatio").await, None);
    assert_eq!(listed(&root).await["SystemName"], json!("Renamed"));
    assert_eq!(option_events(&pool).await, events);
}

async fn only_root_manages_options(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let pool = database(&pylon).await;
    let mut root = Console::new(&pylon.base_url);
    root.setup_root("root", ROOT_PASSWORD).await;
    root.login("root", ROOT_PASSWORD).await;
    assert!(
        put_option(&root, json!({"key": "SystemName", "value": "Kept"}))
            .await
            .success()
    );
    let events = option_events(&pool).await;

    // new-api guards options with RootAuth: a common user and an admin are both refused.
    for (name, role) in [("common", 1), ("admin", 10)] {
        let console = console_with_role(&pylon, &pool, name, role).await;
        let read = console.get("/api/option/").await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(!read.success(), "{name} read options");
        assert_eq!(read.message(), "Unauthorized, insufficient privileges");
        let write = put_option(&console, json!({"key": "SystemName", "value": "Hijacked"})).await;
        assert!(!write.success(), "{name} wrote an option");
        assert_eq!(write.message(), "Unauthorized, insufficient privileges");
    }
    let anonymous = put_option(
        &Console::new(&pylon.base_url),
        json!({"key": "SystemName", "value": "x"}),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&pool, "SystemName").await.as_deref(), Some("Kept"));
    assert_eq!(option_events(&pool).await, events);
}

on_every_backend!(options_round_trip);
on_every_backend!(only_root_manages_options);
