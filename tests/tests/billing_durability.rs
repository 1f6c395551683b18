//! Billing that survives crashes, on SQLite and on MySQL + Redis: a dead node's holds vanish
//! within its lease; the shared `stored` counters heal from the database.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-slow";
/// ModelPrice 0.001 USD: 500 quota per request.
const PRICE: i64 = 500;
const LEASE_MS: u64 = 3_000;

async fn setup(pylon: &Pylon, mock: &MockUpstream) -> (i64, String) {
    let console = root_console(pylon).await;
    set_option(&console, "ModelPrice", &json!({ MODEL: 0.001 }).to_string()).await;
    create_channel(
        &console,
        json!({
            "type": 1, "name": "slow", "key": "k", "base_url": mock.base_url(), "models": MODEL,
            "group": "default", "priority": 0, "weight": 0,
        }),
    )
    .await;
    let (key_id, key) = create_key(&console, "two-requests", 2 * PRICE, false).await;
    wait_until_routable(pylon, &key, MODEL).await;
    (key_id, key)
}

async fn chat(base_url: &str, key: &str, stream: bool) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "stream": stream, "messages": []}))
        .send()
        .await
        .expect("relay reachable")
}

/// A fred client on the test Redis and this Pylon's key prefix.
async fn redis(pylon: &Pylon) -> (fred::clients::Client, String) {
    use fred::prelude::*;
    let prefix = pylon
        .env()
        .iter()
        .find(|(k, _)| k == "PYLON__CACHE__KEY_PREFIX")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let config = fred::types::config::Config::from_url(&pylon_tests::backend::redis_url())
        .expect("Redis URL");
    let client = Builder::from_config(config).build().expect("client");
    client.init().await.expect("Redis");
    (client, prefix)
}

async fn holds_of_a_dead_node_vanish_within_the_lease(backend: Backend) {
    let mock = MockUpstream::start(MockConfig {
        chunks: 100,
        chunk_interval_ms: 100,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let mut pylon = Pylon::builder(backend)
        .env("PYLON__BILLING__LEASE_MS", LEASE_MS.to_string())
        .start()
        .await;
    let (key_id, key) = setup(&pylon, &mock).await;

    // Two 10-second streams hold the key's whole balance on a node that then dies (kill -9).
    let node = match backend {
        Backend::MySqlRedis => Some(pylon.start_node().await),
        Backend::Sqlite => None,
    };
    let node_url = node
        .as_ref()
        .map_or(pylon.base_url.clone(), |n| n.base_url.clone());
    wait_until_routable_at(&node_url, &key, MODEL).await;
    let mut streams = Vec::new();
    for _ in 0..2 {
        let answer = chat(&node_url, &key, true).await;
        assert_eq!(answer.status(), 200);
        streams.push(answer);
    }
    assert_eq!(
        chat(&pylon.base_url, &key, false).await.status(),
        429,
        "both requests hold the balance"
    );
    if backend == Backend::MySqlRedis {
        use fred::prelude::*;
        let (client, prefix) = redis(&pylon).await;
        let held: std::collections::HashMap<String, i64> = client
            .hgetall(format!("{prefix}bal:t:{key_id}:held"))
            .await
            .expect("HGETALL");
        assert_eq!(held.values().sum::<i64>(), 2 * PRICE, "{held:?}");
        let _ = client.quit().await;
    }
    let killed = Instant::now();
    match node {
        // Dropping a node kills it with SIGKILL.
        Some(node) => drop(node),
        None => pylon.restart().await,
    }
    drop(streams);

    // Within the lease, the account admits at its full balance again: two requests.
    let deadline = killed + Duration::from_millis(LEASE_MS) + Duration::from_secs(2);
    loop {
        let answer = chat(&pylon.base_url, &key, false).await;
        if answer.status() == 200 {
            break;
        }
        assert_eq!(answer.status(), 429);
        assert!(
            Instant::now() < deadline,
            "the dead node's holds outlived the lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 429);
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'two-requests'",
        2,
    )
    .await;
    db.close().await;
}
on_every_backend!(holds_of_a_dead_node_vanish_within_the_lease);

async fn stored_counters_heal_from_the_database(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__BILLING__RESYNC_SECS", "1")
        .start()
        .await;
    let (key_id, key) = setup(&pylon, &mock).await;
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'two-requests'",
        1,
    )
    .await;

    if backend == Backend::MySqlRedis {
        use fred::prelude::*;
        let (client, prefix) = redis(&pylon).await;
        let stored_key = format!("{prefix}bal:t:{key_id}:stored");
        // A counter that drifted (as after a Redis restart that lost writes): nothing but the
        // periodic re-sync touches it now, and within the period it equals the database.
        let corrected_before = metric(
            &pylon,
            "pylon_proxy_balance_resyncs_total{result=\"corrected\"}",
        )
        .await;
        let _: () = client
            .set(&stored_key, 7, None, None, false)
            .await
            .expect("SET");
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            let stored: Option<i64> = client.get(&stored_key).await.expect("GET");
            if stored == Some(PRICE) {
                break;
            }
            assert!(Instant::now() < deadline, "stored stayed {stored:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            metric(
                &pylon,
                "pylon_proxy_balance_resyncs_total{result=\"corrected\"}"
            )
            .await
                > corrected_before,
            "the re-sync corrected it"
        );
        // Every counter of this deployment gone (a Redis restart): they restart from the
        // database on the next request.
        let keys: Vec<String> = client
            .custom(fred::cmd!("KEYS"), vec![format!("{prefix}bal:*")])
            .await
            .expect("KEYS");
        let _: i64 = client.del(keys).await.expect("DEL");
        let _ = client.quit().await;
    }
    // The balance the database holds is exactly what admission grants: one more request.
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 429);
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'two-requests'",
        2,
    )
    .await;
    let _: Value = Value::Null;
    db.close().await;
}
on_every_backend!(stored_counters_heal_from_the_database);
