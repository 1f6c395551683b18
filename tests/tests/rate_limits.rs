//! Rate limits (issue 13): a key's own `rpm_limit` holds across proxy nodes sharing Redis (60 of
//! 200 requests in a minute, whichever node they hit) and in embedded mode, as do its
//! tokens-per-minute and per-model limits (LiteLLM's); new-api's per-user
//! `ModelRequestRateLimit*` options (requests in all, successful ones, per-group pairs). A
//! refusal is a 429 with `Retry-After` and the `x-ratelimit-*` headers of the client's
//! provider, in its error format, and is counted in Prometheus.

use futures::future::join_all;
use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-limited";
/// A second model, priced later to tell when later options reached the proxy.
const LATER: &str = "gpt-limited-later";

fn answer() -> Canned {
    Canned::json(
        &json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": MODEL, "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}),
    )
}

async fn relay(base_url: &str, key: &str) -> reqwest::Response {
    relay_model(base_url, key, MODEL).await
}

async fn relay_model(base_url: &str, key: &str, model: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "max_tokens": 8,
            "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("relay reachable")
}

/// A priced model behind a canned upstream; answers root's console.
async fn scene(pylon: &Pylon, upstream: &CannedUpstream) -> Console {
    let root = root_console(pylon).await;
    let models = format!("{MODEL},{LATER}");
    create_channel(
        &root,
        openai_channel("limited", &upstream.base_url, &models),
    )
    .await;
    root
}

/// Prices `model` (with every model priced before in `prices`) after the options a test
/// wrote, and waits until the proxy at `base_url` prices it, so every option written before is
/// applied too. The request that shows it is the first one that counts against a limit;
/// answers its status.
async fn price_last(root: &Console, base_url: &str, key: &str, model: &str, prices: Value) -> u16 {
    set_option(root, "ModelPrice", &prices.to_string()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = relay_model(base_url, key, model).await.status().as_u16();
        if status != 503 {
            return status;
        }
        assert!(Instant::now() < deadline, "the model was never priced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_key_limited_to_60_rpm_gets_60_of_200(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| answer()).await;
    let pylon = Pylon::start(backend).await;
    // Two nodes share the limit through Redis; embedded mode has one.
    let second = (backend == Backend::MySqlRedis).then(|| pylon.start_node());
    let second = match second {
        Some(starting) => Some(starting.await),
        None => None,
    };
    let root = scene(&pylon, &upstream).await;
    let (key_id, key) = create_key(&root, "sixty", 0, true).await;
    for bad in [-1, 1_000_001] {
        let answer = root
            .send(
                Method::PUT,
                "/api/token/",
                Some(json!({"id": key_id, "rpm_limit": bad}).to_string()),
            )
            .await;
        assert!(!answer.success(), "{bad}: {answer:?}");
    }
    let limited = root
        .send(
            Method::PUT,
            "/api/token/",
            Some(json!({"id": key_id, "rpm_limit": 60}).to_string()),
        )
        .await;
    assert!(limited.success(), "{limited:?}");
    let listed = root.get("/api/token/?p=1&page_size=10").await;
    assert_eq!(listed.data()["items"][0]["rpm_limit"], 60);
    let nodes: Vec<String> = std::iter::once(pylon.base_url.clone())
        .chain(second.as_ref().map(|n| n.base_url.clone()))
        .collect();
    for node in &nodes {
        wait_until_routable_at(node, &key, MODEL).await;
    }
    let priced = price_last(&root, &nodes[0], &key, MODEL, json!({ MODEL: 0.0002 })).await;
    let mut served = usize::from(priced == 200);
    // The key's own limit reached the node once the first request counted: the rest go to
    // every node at once.
    let answers = join_all((1..200).map(|i| relay(&nodes[i % nodes.len()], &key))).await;
    let mut refused = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            200 => served += 1,
            429 => refused.push(answer),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(served, 60, "60 of 200 requests in the minute");
    assert_eq!(refused.len(), 140);
    let sample = refused.pop().unwrap();
    let headers = sample.headers().clone();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-limit-requests"], "60");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    let body: Value = sample.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");

    // An Anthropic client gets Anthropic's error and headers.
    let claude = reqwest::Client::new()
        .post(format!("{}/v1/messages", nodes[0]))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": MODEL, "max_tokens": 8,
            "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(claude.status(), 429);
    assert_eq!(claude.headers()["anthropic-ratelimit-requests-limit"], "60");
    let body: Value = claude.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");

    let counted = metric(
        &pylon,
        "pylon_proxy_relay_rate_limited_total{scope=\"key\"}",
    )
    .await;
    assert!(counted >= 1, "{counted}");
    // Another key of the same user is not limited by this one's.
    let (_, other) = create_key(&root, "other", 0, true).await;
    wait_until_routable_at(&nodes[0], &other, MODEL).await;
    assert_eq!(relay(&nodes[0], &other).await.status(), 200);
}
on_every_backend!(a_key_limited_to_60_rpm_gets_60_of_200);

async fn new_api_user_limits_count_requests_and_successes(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| answer()).await;
    let pylon = Pylon::start(backend).await;
    let root = scene(&pylon, &upstream).await;
    let db = database(&pylon).await;
    let alice = console_with_role(&pylon, &db, "alice", 1).await;
    sqlx::query("UPDATE users SET quota = 10000000 WHERE username = 'alice'")
        .execute(&db)
        .await
        .unwrap();
    let (_, key) = create_key(&alice, "alice-key", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    for (option, value) in [
        ("ModelRequestRateLimitEnabled", "true"),
        ("ModelRequestRateLimitDurationMinutes", "1"),
        ("ModelRequestRateLimitCount", "0"),
        ("ModelRequestRateLimitSuccessCount", "3"),
    ] {
        set_option(&root, option, value).await;
    }
    // Three successful requests in the window, then the success limit refuses.
    let first = price_last(
        &root,
        &pylon.base_url,
        &key,
        MODEL,
        json!({ MODEL: 0.0002 }),
    )
    .await;
    assert_eq!(first, 200);
    for _ in 0..2 {
        assert_eq!(relay(&pylon.base_url, &key).await.status(), 200);
    }
    let refused = relay(&pylon.base_url, &key).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("3 successful requests"), "{message}");
    let scope = "pylon_proxy_relay_rate_limited_total{scope=\"user_success\"}";
    assert_eq!(metric(&pylon, scope).await, 1);

    // A group's pair replaces the defaults: the default group may make 2 requests in all.
    let bob = console_with_role(&pylon, &db, "bob", 1).await;
    sqlx::query("UPDATE users SET quota = 10000000 WHERE username = 'bob'")
        .execute(&db)
        .await
        .unwrap();
    let (_, bob_key) = create_key(&bob, "bob-key", 0, true).await;
    set_option(
        &root,
        "ModelRequestRateLimitGroup",
        r#"{"default": [2, 100]}"#,
    )
    .await;
    let prices = json!({ MODEL: 0.0002, LATER: 0.0002 });
    assert_eq!(
        price_last(&root, &pylon.base_url, &bob_key, LATER, prices).await,
        200
    );
    assert_eq!(relay(&pylon.base_url, &bob_key).await.status(), 200);
    assert_eq!(relay(&pylon.base_url, &bob_key).await.status(), 429);
    let scope = "pylon_proxy_relay_rate_limited_total{scope=\"user\"}";
    assert_eq!(metric(&pylon, scope).await, 1);
    // Alice, refused by the old success limit, now has the group's 100 successes and 2
    // requests in all (counted from now: no total limit counted her earlier ones).
    for expected in [200, 200, 429] {
        assert_eq!(relay(&pylon.base_url, &key).await.status(), expected);
    }
    db.close().await;
}
on_every_backend!(new_api_user_limits_count_requests_and_successes);

/// Tokens per minute and per-model limits (LiteLLM's `tpm_limit`, `model_rpm_limit`,
/// `model_tpm_limit`): a request is refused once the key's window holds its token limit (the
/// canned upstream reports 6 tokens per request), whichever node served the earlier requests
/// (two nodes sharing Redis on MySQL + Redis); per-model limits count only their model.
async fn token_and_per_model_limits(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| answer()).await;
    let pylon = Pylon::start(backend).await;
    let second = (backend == Backend::MySqlRedis).then(|| pylon.start_node());
    let second = match second {
        Some(starting) => Some(starting.await),
        None => None,
    };
    let root = scene(&pylon, &upstream).await;
    let nodes: Vec<String> = std::iter::once(pylon.base_url.clone())
        .chain(second.as_ref().map(|n| n.base_url.clone()))
        .collect();
    let (key_id, key) = create_key(&root, "tokens", 0, true).await;
    for bad in [
        json!({"id": key_id, "tpm_limit": -1}),
        json!({"id": key_id, "model_rpm_limit": {"gpt": 0}}),
        json!({"id": key_id, "model_tpm_limit": [1]}),
        json!({"id": key_id, "model_tpm_limit": {"gpt": "many"}}),
    ] {
        let answer = root
            .send(Method::PUT, "/api/token/", Some(bad.to_string()))
            .await;
        assert!(!answer.success(), "{bad}: {answer:?}");
    }
    let limited = root
        .send(
            Method::PUT,
            "/api/token/",
            Some(json!({"id": key_id, "tpm_limit": 20}).to_string()),
        )
        .await;
    assert!(limited.success(), "{limited:?}");
    let (model_key_id, model_key) = create_key(&root, "per-model", 0, true).await;
    let limited = root
        .send(
            Method::PUT,
            "/api/token/",
            Some(
                json!({"id": model_key_id, "model_rpm_limit": { LATER: 2 },
                       "model_tpm_limit": { MODEL: 10 }})
                .to_string(),
            ),
        )
        .await;
    assert!(limited.success(), "{limited:?}");
    let listed = root.get("/api/token/?p=1&page_size=10").await;
    let items = listed.data()["items"].as_array().unwrap().clone();
    let shown = |id: i64| items.iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(shown(key_id)["tpm_limit"], 20);
    assert_eq!(shown(model_key_id)["model_rpm_limit"], json!({ LATER: 2 }));
    assert_eq!(shown(model_key_id)["model_tpm_limit"], json!({ MODEL: 10 }));
    for node in &nodes {
        wait_until_routable_at(node, &key, MODEL).await;
        wait_until_routable_at(node, &model_key, MODEL).await;
    }
    let prices = json!({ MODEL: 0.0002, LATER: 0.0002 });
    assert_eq!(
        price_last(&root, &nodes[0], &key, MODEL, prices.clone()).await,
        200
    );
    // 6, 12, 18 tokens: still under 20; the fourth request takes the window to 24; the fifth
    // is refused, on whichever node.
    for i in 1..4 {
        let status = relay(&nodes[i % nodes.len()], &key).await.status();
        assert_eq!(status, 200, "request {i}");
    }
    let refused = relay(&nodes[4 % nodes.len()], &key).await;
    assert_eq!(refused.status(), 429);
    let headers = refused.headers().clone();
    assert_eq!(headers["x-ratelimit-limit-tokens"], "20");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("20 tokens"), "{message}");
    assert_eq!(
        relay_model(&nodes[0], &key, LATER).await.status(),
        429,
        "the key's own token limit covers every model"
    );

    // Per model: MODEL may use 10 tokens a minute (two requests), LATER two requests.
    for expected in [200, 200, 429] {
        let status = relay(&nodes[0], &model_key).await.status();
        assert_eq!(status, expected, "{MODEL}");
    }
    for expected in [200, 200, 429] {
        let status = relay_model(&nodes[0], &model_key, LATER).await.status();
        assert_eq!(status, expected, "{LATER}");
    }
    // Every refusal above was made by the first node.
    for (scope, refusals) in [("key_tokens", 2), ("key_model_tokens", 1), ("key_model", 1)] {
        let name = format!("pylon_proxy_relay_rate_limited_total{{scope=\"{scope}\"}}");
        assert_eq!(metric(&pylon, &name).await, refusals, "{scope}");
    }
}
on_every_backend!(token_and_per_model_limits);
