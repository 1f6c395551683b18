//! The shipped price table end to end, on SQLite and on MySQL + Redis: a fresh install relays
//! `gpt-4o-mini` and bills it by the default price, an operator's `ModelRatio` overrides it,
//! unknown models stay refused until self-use mode is on, and `GET /api/pricing` lists what the
//! channels serve with the prices the proxy charges.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::client::Console;
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MINI: &str = "gpt-4o-mini";
const HOUSE: &str = "house-model";
const LAST_QUOTA: &str = "SELECT quota FROM logs WHERE type = 2 ORDER BY id DESC LIMIT 1";

/// The mock reports 1000 prompt tokens (200 of them cached) and 100 completion tokens.
fn upstream_config() -> MockConfig {
    MockConfig {
        prompt_tokens: 1000,
        completion_tokens: Some(100),
        cached_tokens: 200,
        ..MockConfig::default()
    }
}

fn channel(name: &str, base_url: &str, models: &str, group: &str) -> Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": models,
        "group": group, "priority": 0, "weight": 0,
    })
}

async fn chat(pylon: &Pylon, key: &str, model: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("relay reachable")
}

/// Relays `model` until the request is billed `expected` (an option change reaches the proxy
/// through the change feed), up to 10 s; returns the number of billed requests made.
async fn billed_until(pylon: &Pylon, key: &str, model: &str, expected: i64) -> i64 {
    let db = database(pylon).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut requests = 0;
    loop {
        let before = scalar(&db, "SELECT COUNT(*) FROM logs WHERE type = 2").await;
        let answer = chat(pylon, key, model).await;
        if answer.status() == 200 {
            requests += 1;
            eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", before + 1).await;
            if scalar(&db, LAST_QUOTA).await == expected {
                return requests;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{model} never billed {expected}: last status {}, last quota {}",
            answer.status(),
            scalar(&db, LAST_QUOTA).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fresh_install_bills_defaults_and_operator_overrides(backend: Backend) {
    let mock = MockUpstream::start(upstream_config()).await.expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    create_channel(
        &console,
        channel(
            "mock",
            &mock.base_url(),
            &format!("{MINI},{HOUSE}"),
            "default",
        ),
    )
    .await;
    let (_, key) = create_key(&console, "defaults-key", 10_000_000, false).await;
    wait_until_routable(&pylon, &key, MINI).await;
    let db = database(&pylon).await;
    let user_before = scalar(&db, "SELECT quota FROM users WHERE id = 1").await;

    // No price option written: gpt-4o-mini is billed by the shipped table, cached tokens at
    // half price: (800 + 200 x 0.5 + 100 x 4) x 0.075 = 97.5, rounded half away = 98.
    let answer = chat(&pylon, &key, MINI).await;
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    let upstream = mock.requests();
    let sent = upstream.last().expect("the upstream saw the request");
    assert_eq!(
        sent.json.as_ref().map(|b| b["model"].clone()),
        Some(json!(MINI))
    );
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 1).await;
    assert_eq!(scalar(&db, LAST_QUOTA).await, 98);
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM users WHERE id = 1 AND used_quota = 98",
        1,
    )
    .await;
    assert_eq!(
        scalar(&db, "SELECT quota FROM users WHERE id = 1").await,
        user_before - 98
    );

    // A model nobody priced is refused, and costs nothing.
    let refused = chat(&pylon, &key, HOUSE).await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.expect("error body");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no price configured")),
        "{body}"
    );

    // The operator's ratio replaces the default for that model; the default completion and
    // cache ratios stay: (800 + 100 + 400) x 1.5 = 1950.
    set_option(&console, "ModelRatio", &json!({ MINI: 1.5 }).to_string()).await;
    billed_until(&pylon, &key, MINI, 1950).await;

    // Self-use mode prices the unknown model at new-api's 37.5: (1000 + 100) x 37.5 = 41250.
    set_option(&console, "SelfUseModeEnabled", "true").await;
    assert_eq!(billed_until(&pylon, &key, HOUSE, 41_250).await, 1);
    set_option(&console, "SelfUseModeEnabled", "false").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while chat(&pylon, &key, HOUSE).await.status() != 503 {
        assert!(Instant::now() < deadline, "self-use mode never turned off");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every charge is in the balance: the user paid exactly what the logs say.
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    eventually_equals_value(&db, user_before - logged).await;
}
on_every_backend!(fresh_install_bills_defaults_and_operator_overrides);

async fn eventually_equals_value(db: &sqlx::AnyPool, expected: i64) {
    eventually_equals(db, "SELECT quota FROM users WHERE id = 1", expected).await;
}

/// The entry of `model` in `/api/pricing`, if listed.
fn listed<'a>(answer: &'a Value, model: &str) -> Option<&'a Value> {
    answer["data"]
        .as_array()
        .and_then(|models| models.iter().find(|m| m["model_name"] == json!(model)))
}

async fn pricing_page_lists_defaults_and_overrides(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    create_channel(
        &console,
        channel(
            "open",
            "http://127.0.0.1:9/",
            &format!("{MINI},{HOUSE},dall-e-3"),
            "default",
        ),
    )
    .await;
    create_channel(
        &console,
        channel("hidden", "http://127.0.0.1:9/", "secret-model", "staff"),
    )
    .await;
    set_option(
        &console,
        "GroupRatio",
        r#"{"default": 1, "vip": 2, "staff": 5}"#,
    )
    .await;

    // Anonymous, as the public pricing page asks.
    let anonymous = Console::new(&pylon.base_url);
    let page = anonymous.get("/api/pricing").await;
    assert!(page.success(), "{page:?}");
    let body = &page.body;
    let mini = listed(body, MINI).unwrap_or_else(|| panic!("{MINI} not listed: {body}"));
    assert_eq!(mini["quota_type"], json!(0));
    assert_eq!(mini["model_ratio"], json!(0.075));
    assert_eq!(mini["completion_ratio"], json!(4.0));
    assert_eq!(mini["cache_ratio"], json!(0.5));
    assert_eq!(mini["model_price"], json!(0.0));
    assert_eq!(mini["enable_groups"], json!(["default"]));
    assert_eq!(mini["supported_endpoint_types"], json!(["openai"]));
    let dalle = listed(body, "dall-e-3").expect("dall-e-3 listed");
    assert_eq!(
        (dalle["quota_type"].clone(), dalle["model_price"].clone()),
        (json!(1), json!(0.04))
    );
    // Unpriced: new-api's fallback ratio is shown.
    assert_eq!(
        listed(body, HOUSE).expect("listed")["model_ratio"],
        json!(37.5)
    );
    // A group the caller cannot use hides its models and its ratio.
    assert!(listed(body, "secret-model").is_none(), "{body}");
    assert_eq!(body["group_ratio"], json!({"default": 1.0, "vip": 2.0}));
    assert_eq!(body["usable_group"]["default"], json!("默认分组"));
    assert_eq!(
        body["supported_endpoint"]["openai"],
        json!({"path": "/v1/chat/completions", "method": "POST"})
    );

    // The operator's override is what the page shows.
    set_option(&console, "ModelRatio", &json!({ MINI: 1.5 }).to_string()).await;
    set_option(&console, "CompletionRatio", &json!({ MINI: 2 }).to_string()).await;
    let page = anonymous.get("/api/pricing").await;
    let mini = listed(&page.body, MINI).expect("listed");
    assert_eq!(
        (
            mini["model_ratio"].clone(),
            mini["completion_ratio"].clone()
        ),
        (json!(1.5), json!(2.0))
    );
    assert_eq!(mini["cache_ratio"], json!(0.5), "default cache ratio kept");
}
on_every_backend!(pricing_page_lists_defaults_and_overrides);
