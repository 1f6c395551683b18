//! new-api's price sync routes (issue 13) on SQLite and on MySQL + Redis, with the control plane
//! served in this process against a mock price source: `GET /api/ratio_sync/channels` lists the
//! channels to read from; `POST /api/ratio_sync/fetch` compares upstreams' prices (new-api's
//! `/api/ratio_config` and `/api/pricing`, LiteLLM's price file) with the prices in force and
//! changes nothing; `GET /api/ratio_config` exposes the prices only while `ExposeRatioEnabled`
//! is on; LiteLLM's file feeds the price sync with exact ratios; `POST
//! /api/option/rest_model_ratio` puts the shipped defaults back. Root only (but the public
//! ratio config); refused callers change nothing.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::catalogue_fixtures::{ok, option, root};
use pylon_tests::fixtures::{create_channel, openai_channel, set_option};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The mock price source, by path.
fn price_source(path: &str) -> Canned {
    match path {
        "/api/ratio_config" => Canned::json(&json!({"success": true, "message": "", "data": {
            "model_ratio": {"gpt-4o": 2, "peer-only": 0.5},
            "completion_ratio": {"gpt-4o": 4},
            "model_price": {"per-call": 0.02}}})),
        "/api/pricing" => Canned::json(&json!({"success": true, "data": [
            {"model_name": "gpt-4o", "quota_type": 0, "model_ratio": 1.25, "completion_ratio": 4},
            {"model_name": "listed", "quota_type": 1, "model_price": 0.05}]})),
        "/litellm.json" => Canned::json(&json!({
            "sample_spec": {"input_cost_per_token": 0, "litellm_provider": "sample"},
            "lite-model": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
                "cache_read_input_token_cost": 1.25e-06, "litellm_provider": "openai"},
            "lite-cheap": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
                "litellm_provider": "openai"}})),
        "/refused" => Canned::json(&json!({"success": false, "message": "not exposed"})),
        _ => Canned {
            content_type: "text/plain",
            body: "nope".to_string(),
        },
    }
}

async fn callers(plane: &InProcess, root: &Console) -> (Console, Console) {
    create_user(root, "admin1", 10).await;
    create_user(root, "common1", 1).await;
    let mut admin = Console::new(&plane.base_url);
    admin.login("admin1", PASSWORD).await;
    let mut common = Console::new(&plane.base_url);
    common.login("common1", PASSWORD).await;
    (admin, common)
}

/// Every price option as `GET /api/option/` shows it.
async fn price_options(root: &Console) -> Vec<Value> {
    let mut all = Vec::new();
    for key in [
        "ModelRatio",
        "CompletionRatio",
        "CacheRatio",
        "CreateCacheRatio",
        "ModelPrice",
    ] {
        all.push(option(root, key).await);
    }
    all
}

async fn upstream_prices_are_compared(backend: Backend) {
    let source = CannedUpstream::start(|path, _| price_source(path)).await;
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let (admin, common) = callers(&plane, &root).await;
    let peer = create_channel(&root, openai_channel("peer", &source.base_url, "m")).await;
    let mut plain = openai_channel("no-base", "", "m");
    plain["base_url"] = json!("");
    create_channel(&root, plain).await;
    set_option(&root, "ModelRatio", r#"{"own": 3}"#).await;
    let before = price_options(&root).await;

    // Root only; refused callers reach no source.
    let fetch = json!({"channel_ids": [peer]});
    for caller in [&admin, &common] {
        refused(&caller.get("/api/ratio_sync/channels").await, INSUFFICIENT);
        refused(
            &caller.post("/api/ratio_sync/fetch", fetch.clone()).await,
            INSUFFICIENT,
        );
    }
    let anonymous = Console::new(&plane.base_url);
    let answer = anonymous.post("/api/ratio_sync/fetch", fetch.clone()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert!(source.received().is_empty());

    let channels = ok(root.get("/api/ratio_sync/channels").await);
    assert_eq!(
        channels,
        json!([
            {"id": peer, "name": "peer", "base_url": source.base_url, "status": 1, "type": 1},
            {"id": -100, "name": "官方倍率预设", "base_url": "https://basellm.github.io",
                "status": 1, "type": 0}
        ])
    );

    // A channel is read at new-api's default endpoint, /api/pricing.
    let by_channel = ok(root.post("/api/ratio_sync/fetch", fetch).await);
    assert_eq!(source.last().uri, "/api/pricing");
    assert_eq!(
        by_channel["test_results"],
        json!([{"name": format!("peer({peer})"), "status": "success"}])
    );
    assert_eq!(
        by_channel["differences"]["listed"]["model_price"],
        json!({"current": null, "upstreams": {format!("peer({peer})"): 0.05},
            "confidence": {format!("peer({peer})"): true}})
    );
    assert!(
        by_channel["differences"].get("gpt-4o").is_none(),
        "the shipped 1.25 and 4 agree: {by_channel}"
    );

    // Named upstreams, in every format; a failing one is reported.
    let at = |name: &str, endpoint: &str| json!({"name": name, "base_url": source.base_url, "endpoint": endpoint});
    let compared = ok(root
        .post(
            "/api/ratio_sync/fetch",
            json!({"upstreams": [
                at("config", "/api/ratio_config"),
                at("lite", &format!("{}/litellm.json", source.base_url)),
                at("off", "refused"),
                {"name": "not-web", "base_url": "ftp://x"}],
                "timeout": 5}),
        )
        .await);
    let results = compared["test_results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "the ftp upstream is skipped: {compared}");
    assert!(results.contains(&json!({"name": "config", "status": "success"})));
    assert!(results.contains(&json!({"name": "lite", "status": "success"})));
    assert!(results.iter().any(|r| {
        r["name"] == "off"
            && r["status"] == "error"
            && r["error"]
                .as_str()
                .is_some_and(|e| e.contains("not exposed"))
    }));
    let gpt = &compared["differences"]["gpt-4o"]["model_ratio"];
    assert_eq!(
        gpt["current"],
        json!(1.25),
        "the shipped default: {compared}"
    );
    assert_eq!(gpt["upstreams"]["config"], json!(2.0));
    let lite = &compared["differences"]["lite-model"];
    assert_eq!(lite["model_ratio"]["upstreams"]["lite"], json!(1.25));
    assert_eq!(lite["completion_ratio"]["upstreams"]["lite"], json!(4.0));
    assert_eq!(lite["cache_ratio"]["upstreams"]["lite"], json!(0.5));
    assert_eq!(
        compared["differences"]["lite-cheap"]["model_ratio"]["upstreams"]["lite"],
        json!(0.075)
    );
    assert_eq!(
        compared["prices"]["gpt-4o"]["upstreams"]["config"]["model_ratio"],
        json!(2.0)
    );
    assert_eq!(
        compared["prices"]["own"]["current"],
        Value::Null,
        "own disagrees with nobody"
    );

    // Nothing to read is refused; nothing is ever written.
    for body in [
        json!({}),
        json!({"channel_ids": [999_999]}),
        json!({"upstreams": [{"name": "x", "base_url": "x"}]}),
    ] {
        refused(
            &root.post("/api/ratio_sync/fetch", body).await,
            "No valid upstream channels",
        );
    }
    refused(
        &root
            .post("/api/ratio_sync/fetch", json!({"channel_ids": "all"}))
            .await,
        "Invalid parameters",
    );
    assert_eq!(price_options(&root).await, before);
}

on_every_backend!(upstream_prices_are_compared);

async fn prices_are_exposed_synced_and_reset(backend: Backend) {
    let source = CannedUpstream::start(|path, _| price_source(path)).await;
    let plane = InProcess::start(backend).await;
    let root = root(&plane).await;
    let (admin, common) = callers(&plane, &root).await;
    let anonymous = Console::new(&plane.base_url);

    // Exposed only while the option is on (new-api's 403 envelope otherwise).
    let hidden = anonymous.get("/api/ratio_config").await;
    assert_eq!(hidden.status, StatusCode::FORBIDDEN, "{hidden:?}");
    assert!(!hidden.success());
    set_option(&root, "ExposeRatioEnabled", "true").await;
    set_option(&root, "ModelRatio", r#"{"own": 3}"#).await;
    let exposed = anonymous.get("/api/ratio_config").await;
    assert_eq!(exposed.status, StatusCode::OK);
    let exposed = ok(exposed);
    assert_eq!(exposed["model_ratio"]["own"], json!(3.0));
    assert_eq!(
        exposed["model_ratio"]["gpt-4o"],
        json!(1.25),
        "the shipped defaults too"
    );
    assert_eq!(exposed["completion_ratio"]["gpt-4o"], json!(4.0));
    for field in ["cache_ratio", "create_cache_ratio", "model_price"] {
        assert!(exposed[field].is_object(), "{field}: {exposed}");
    }

    // LiteLLM's file is a price source of the price sync: per-token USD becomes exact ratios.
    let url = format!("{}/litellm.json", source.base_url);
    let preview = ok(root
        .post("/api/models/prices/sync/preview", json!({"url": url}))
        .await);
    assert!(
        preview["changes"].as_array().is_some_and(|c| c.contains(
            &json!({"model": "lite-model", "option": "ModelRatio", "current": null, "source": 1.25})
        )),
        "{preview}"
    );
    let applied = ok(root
        .post(
            "/api/models/prices/sync/apply",
            json!({"url": url, "models": ["lite-model", "lite-cheap"]}),
        )
        .await);
    assert_eq!(applied["applied"], json!(5), "{applied}");
    assert_eq!(
        option(&root, "ModelRatio").await,
        json!({"own": 3, "lite-model": 1.25, "lite-cheap": 0.075})
    );
    assert_eq!(
        option(&root, "CompletionRatio").await,
        json!({"lite-model": 4, "lite-cheap": 4})
    );
    assert_eq!(
        option(&root, "CacheRatio").await,
        json!({"lite-model": 0.5})
    );
    let text = ok(root.get("/api/option/").await)
        .as_array()
        .and_then(|all| all.iter().find(|o| o["key"] == "ModelRatio").cloned())
        .expect("ModelRatio");
    assert!(
        text["value"]
            .as_str()
            .is_some_and(|v| v.contains("\"lite-cheap\":0.075")),
        "{text}"
    );

    // Reset: root only; then the shipped defaults price every model they list again.
    let before = price_options(&root).await;
    for caller in [&admin, &common] {
        refused(
            &caller.post("/api/option/rest_model_ratio", json!({})).await,
            INSUFFICIENT,
        );
    }
    let answer = anonymous
        .post("/api/option/rest_model_ratio", json!({}))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(price_options(&root).await, before);
    let reset = root.post("/api/option/rest_model_ratio", json!({})).await;
    assert!(reset.success(), "{reset:?}");
    assert_eq!(price_options(&root).await, vec![Value::Null; 5]);
    let exposed = ok(anonymous.get("/api/ratio_config").await);
    assert!(exposed["model_ratio"].get("own").is_none(), "{exposed}");
    assert!(exposed["model_ratio"].get("lite-model").is_none());
    assert_eq!(exposed["model_ratio"]["gpt-4o"], json!(1.25));

    // new-api's critical rate limit: a client asks 20 times in 20 minutes (3 so far).
    for call in 4..=20 {
        let answer = anonymous.get("/api/ratio_config").await;
        assert_eq!(answer.status, StatusCode::OK, "call {call}: {answer:?}");
    }
    let limited = anonymous.get("/api/ratio_config").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    assert!(!limited.success());
}

on_every_backend!(prices_are_exposed_synced_and_reset);
