//! Keys known everywhere at once, from a bounded cache: a key answers on every proxy node the
//! moment its creation answers (the node reads a key it does not hold from the database), a
//! flood of bad keys costs a handful of database lookups (counted by
//! `pylon_proxy_key_lookups_total`), a disabled or deleted key is refused within the change
//! feed's bound whether it is held, was evicted or was never seen, and billing stays exact when
//! keys are evicted and read again. On SQLite and on MySQL + Redis (two nodes).

use futures::StreamExt;
use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::json;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-test";

async fn routed_pylon(backend: Backend, env: &[(&str, &str)]) -> (MockUpstream, Pylon, Console) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let mut builder = Pylon::builder(backend);
    for (key, value) in env {
        builder = builder.env(key, *value);
    }
    let pylon = builder.start().await;
    let console = root_console(&pylon).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    set_option(
        &console,
        "CompletionRatio",
        &json!({ MODEL: 2 }).to_string(),
    )
    .await;
    create_channel(
        &console,
        json!({"type": 1, "name": "mock", "key": "k", "base_url": mock.base_url(),
               "models": MODEL, "group": "default"}),
    )
    .await;
    // The channel reaches the proxy through the change feed; a first key shows when it has.
    let (_, probe) = create_key(&console, "probe", 1_000_000, false).await;
    wait_until_routable(&pylon, &probe, MODEL).await;
    (mock, pylon, console)
}

/// One client for every request, so that a flood reuses connections.
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

async fn chat_at(base_url: &str, key: &str) -> u16 {
    client()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("relay reachable")
        .status()
        .as_u16()
}

/// `pylon_proxy_key_lookups_total{result="..."}` of the main node.
async fn lookups(pylon: &Pylon, result: &str) -> u64 {
    let text = reqwest::get(&pylon.metrics_url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let prefix = format!("pylon_proxy_key_lookups_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until `key` is refused with 401 at `base_url`, failing past `bound`.
async fn refused_within(base_url: &str, key: &str, since: Instant, bound: Duration) {
    loop {
        let status = chat_at(base_url, key).await;
        if status == 401 {
            return;
        }
        assert_eq!(status, 200, "unexpected status while waiting for a refusal");
        assert!(
            since.elapsed() < bound,
            "still accepted after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn feed_bound(backend: Backend) -> Duration {
    match backend {
        Backend::Sqlite => Duration::from_secs(2),
        Backend::MySqlRedis => Duration::from_secs(1),
    }
}

async fn keys_work_everywhere_at_once(backend: Backend) {
    let (_mock, pylon, console) =
        routed_pylon(backend, &[("PYLON__RELAY__UNKNOWN_KEY_TTL_MS", "60000")]).await;
    let mut nodes = vec![pylon.base_url.clone()];
    let second = match backend {
        Backend::Sqlite => None,
        Backend::MySqlRedis => Some(pylon.start_node().await),
    };
    if let Some(node) = &second {
        wait_until_routable_at(
            &node.base_url,
            &create_key(&console, "p2", 1, false).await.1,
            MODEL,
        )
        .await;
        nodes.push(node.base_url.clone());
    }

    // Used the moment its creation answers, on every node, with no waiting.
    let found_before = lookups(&pylon, "found").await;
    for round in 0..3 {
        let (_, key) = create_key(&console, &format!("fresh-{round}"), 1_000_000, false).await;
        for node in &nodes {
            assert_eq!(
                chat_at(node, &key).await,
                200,
                "fresh key refused at {node}"
            );
        }
    }
    assert!(
        lookups(&pylon, "found").await >= found_before + 3,
        "the fresh keys were not read from the database"
    );

    // A flood of 1000 requests with 5 unknown keys (200 each, concurrently): one lookup per key.
    let unknown_before = lookups(&pylon, "unknown").await;
    let bad: Vec<String> = (0..5)
        .map(|i| format!("sk-{i}{}", "x".repeat(47)))
        .collect();
    let statuses: Vec<u16> = futures::stream::iter(0..1000)
        .map(|n| chat_at(&pylon.base_url, &bad[n % bad.len()]))
        .buffer_unordered(100)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let unknown = lookups(&pylon, "unknown").await - unknown_before;
    assert!(
        (1..=5).contains(&unknown),
        "{unknown} database lookups for 5 unknown keys"
    );
    // Text that cannot be a key is refused without any lookup.
    for _ in 0..100 {
        assert_eq!(chat_at(&pylon.base_url, "sk-short").await, 401);
    }
    assert_eq!(lookups(&pylon, "unknown").await - unknown_before, unknown);

    // Disabled and deleted keys are refused within the feed's bound on every node, whether the
    // node held them or not.
    let (held_id, held) = create_key(&console, "held", 1_000_000, false).await;
    let (unseen_id, unseen) = create_key(&console, "unseen", 1_000_000, false).await;
    let (gone_id, gone) = create_key(&console, "gone", 1_000_000, false).await;
    for node in &nodes {
        assert_eq!(chat_at(node, &held).await, 200);
        assert_eq!(chat_at(node, &gone).await, 200);
    }
    for id in [held_id, unseen_id] {
        let answer = console
            .send(
                reqwest::Method::PUT,
                "/api/token/?status_only=true",
                Some(json!({"id": id, "status": 2}).to_string()),
            )
            .await;
        assert!(answer.success(), "{answer:?}");
    }
    let deleted = console
        .send(
            reqwest::Method::DELETE,
            &format!("/api/token/{gone_id}"),
            None,
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    let changed_at = Instant::now();
    for node in &nodes {
        for key in [&held, &unseen, &gone] {
            refused_within(node, key, changed_at, feed_bound(backend)).await;
        }
    }
}
on_every_backend!(keys_work_everywhere_at_once);

async fn a_small_cache_serves_every_key_and_bills_exactly(backend: Backend) {
    let (_mock, pylon, console) =
        routed_pylon(backend, &[("PYLON__RELAY__KEY_CACHE_CAPACITY", "4")]).await;
    let mut keys = Vec::new();
    for n in 0..12 {
        keys.push(create_key(&console, &format!("small-{n}"), 100_000, false).await);
    }
    // Three rounds over 12 keys through a cache of 4: evicted keys are read again.
    let found_before = lookups(&pylon, "found").await;
    for _ in 0..3 {
        for (_, key) in &keys {
            assert_eq!(chat_at(&pylon.base_url, key).await, 200);
        }
    }
    let found = lookups(&pylon, "found").await - found_before;
    assert!(found > 12, "only {found} lookups: nothing was evicted");

    // Every charge lands once: each key's balance is its start minus its logged charges.
    let db = database(&pylon).await;
    let charged = "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name LIKE 'small-%'";
    eventually_equals(&db, charged, 36).await;
    for (id, _) in &keys {
        let (remain, logged): (i64, i64) = sqlx::query_as(
            "SELECT remain_quota, (SELECT CAST(COALESCE(SUM(quota), 0) AS SIGNED) FROM logs \
             WHERE type = 2 AND token_id = tokens.id) FROM tokens WHERE id = ?",
        )
        .bind(*id)
        .fetch_one(&db)
        .await
        .expect("token");
        assert!(logged > 0);
        assert_eq!(remain, 100_000 - logged, "key {id}");
    }

    // A disable reaches a key whether it is held now or was evicted.
    let changed_at = Instant::now();
    for (id, _) in &keys[..6] {
        let answer = console
            .send(
                reqwest::Method::PUT,
                "/api/token/?status_only=true",
                Some(json!({"id": id, "status": 2}).to_string()),
            )
            .await;
        assert!(answer.success(), "{answer:?}");
    }
    for (_, key) in &keys[..6] {
        refused_within(&pylon.base_url, key, changed_at, feed_bound(backend)).await;
    }
    for (_, key) in &keys[6..] {
        assert_eq!(chat_at(&pylon.base_url, key).await, 200);
    }
    db.close().await;
}
on_every_backend!(a_small_cache_serves_every_key_and_bills_exactly);
