//! Billing that survives crashes, stops and outages, on SQLite and on MySQL + Redis: a dead
//! node's holds vanish within its lease; the shared `stored` counters heal from the database;
//! SIGTERM lets the streams in flight finish and writes every charge before the process exits;
//! a proxy killed during a database outage loses nothing its journal took; a row the database
//! refuses is set aside without blocking the rest.

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
    setup_key(pylon, mock, "two-requests", 2 * PRICE).await
}

async fn setup_key(pylon: &Pylon, mock: &MockUpstream, name: &str, quota: i64) -> (i64, String) {
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
    let (key_id, key) = create_key(&console, name, quota, false).await;
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

async fn key_quota(db: &sqlx::AnyPool, id: i64) -> i64 {
    sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(id)
        .fetch_one(db)
        .await
        .expect("key")
}

async fn sigterm_finishes_streams_and_writes_every_charge(backend: Backend) {
    // 2-second streams; records would wait 30 s for their batch if the stop did not write them.
    let mock = MockUpstream::start(MockConfig {
        chunks: 20,
        chunk_interval_ms: 100,
        ..MockConfig::default()
    })
    .await
    .expect("mock");
    let mut pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__FLUSH_INTERVAL_MS", "30000")
        .start()
        .await;
    let start = 100 * PRICE;
    let (key_id, key) = setup_key(&pylon, &mock, "stopping", start).await;

    let mut streams = Vec::new();
    for _ in 0..8 {
        let answer = chat(&pylon.base_url, &key, true).await;
        assert_eq!(answer.status(), 200);
        streams.push(tokio::spawn(answer.text()));
    }
    let clean = tokio::task::block_in_place(|| pylon.terminate(Duration::from_secs(30)));
    assert!(clean, "pylon-proxy exits with status 0 after SIGTERM");
    for stream in streams {
        let text = stream
            .await
            .expect("reader")
            .expect("the stream was not cut");
        assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    }
    // Written before the exit: no waiting.
    let db = database(&pylon).await;
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'stopping'"
        )
        .await,
        8
    );
    assert_eq!(key_quota(&db, key_id).await, start - 8 * PRICE);
    db.close().await;
}
on_every_backend!(sigterm_finishes_streams_and_writes_every_charge);

/// Lines of the proxy's settlement journal that record a charged request.
fn journaled_charges(pylon: &Pylon) -> usize {
    std::fs::read_to_string(pylon.data_dir().join("journal/settlements.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("\"log_type\":2"))
        .count()
}

async fn wait_for_journal(pylon: &Pylon, charges: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while journaled_charges(pylon) != charges {
        assert!(
            Instant::now() < deadline,
            "journal holds {} charges, expected {charges}",
            journaled_charges(pylon)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An outage of the database: MariaDB's connections cut at a gate, or SQLite's file locked by
/// another writer.
enum Outage {
    Gate(pylon_tests::outage::Gate),
    Lock(Option<sqlx::AnyConnection>),
}

impl Outage {
    async fn begin(&mut self, pylon: &Pylon) {
        match self {
            Outage::Gate(gate) => gate.cut(),
            Outage::Lock(connection) => {
                use sqlx::Connection;
                let mut locker = sqlx::AnyConnection::connect(&pylon.database_url())
                    .await
                    .expect("SQLite");
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut locker)
                    .await
                    .expect("lock");
                *connection = Some(locker);
            }
        }
    }

    async fn end(&mut self) {
        match self {
            Outage::Gate(gate) => gate.restore(),
            Outage::Lock(connection) => {
                if let Some(mut locker) = connection.take() {
                    sqlx::query("ROLLBACK")
                        .execute(&mut locker)
                        .await
                        .expect("unlock");
                }
            }
        }
    }
}

async fn a_crash_during_a_database_outage_loses_nothing_journaled(backend: Backend) {
    sqlx::any::install_default_drivers();
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let mut builder = Pylon::builder(backend).env("PYLON__RELAY__FLUSH_INTERVAL_MS", "200");
    let mut outage = match backend {
        Backend::MySqlRedis => {
            let server = pylon_tests::backend::mysql_server_url();
            let target = server.rsplit('@').next().unwrap_or("127.0.0.1:3306");
            let gate = pylon_tests::outage::Gate::start(target.to_string())
                .await
                .expect("gate");
            builder = builder.database_via(gate.addr());
            Outage::Gate(gate)
        }
        Backend::Sqlite => Outage::Lock(None),
    };
    let mut pylon = builder.start().await;
    let start = 100 * PRICE;
    let (key_id, key) = setup_key(&pylon, &mock, "outage", start).await;
    // One request before: key and balances known to the proxy, its charge written and the
    // journal emptied.
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'outage'",
        1,
    )
    .await;
    db.close().await;
    wait_for_journal(&pylon, 0).await;

    outage.begin(&pylon).await;
    for _ in 0..5 {
        assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);
    }
    // On disk within a flush interval, although the database takes nothing; then a crash.
    wait_for_journal(&pylon, 5).await;
    pylon.stop();
    outage.end().await;

    pylon.start_again().await;
    // The restarted proxy found the five in its journal (the outage kept them out of the
    // database).
    assert_eq!(
        metric(
            &pylon,
            "pylon_proxy_settlement_events_total{event=\"replayed\"}"
        )
        .await,
        5
    );
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'outage'",
        6,
    )
    .await;
    assert_eq!(key_quota(&db, key_id).await, start - 6 * PRICE);
    wait_for_journal(&pylon, 0).await;
    db.close().await;
}
on_every_backend!(a_crash_during_a_database_outage_loses_nothing_journaled);

async fn a_row_the_database_refuses_is_set_aside(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(backend)
        .env("PYLON__RELAY__FLUSH_INTERVAL_MS", "100")
        .start()
        .await;
    let (poison_id, poison) = setup_key(&pylon, &mock, "poison", 2 * PRICE).await;
    let mut console = pylon_tests::Console::new(&pylon.base_url);
    console.login("root", ROOT_PASSWORD).await;
    let (healthy_id, healthy) = create_key(&console, "healthy", 10 * PRICE, false).await;
    wait_until_routable(&pylon, &healthy, MODEL).await;
    let db = database(&pylon).await;
    // The database refuses every log row of the key named "poison" (as it would a value it
    // cannot store), and nothing else.
    let trigger = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON logs \
             WHEN NEW.token_name = 'poison' BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
        }
        Backend::MySqlRedis => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON logs FOR EACH ROW \
             BEGIN IF NEW.token_name = 'poison' THEN \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by test'; END IF; END"
        }
    };
    sqlx::query(trigger).execute(&db).await.expect("trigger");

    // The poisoned key's requests share batches with the healthy key's.
    for _ in 0..2 {
        assert_eq!(chat(&pylon.base_url, &poison, false).await.status(), 200);
        assert_eq!(chat(&pylon.base_url, &healthy, false).await.status(), 200);
    }
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'healthy'",
        2,
    )
    .await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM settlement_dead_letters WHERE token_id > 0",
        2,
    )
    .await;
    assert_eq!(key_quota(&db, healthy_id).await, 8 * PRICE);
    assert_eq!(key_quota(&db, poison_id).await, 2 * PRICE, "never charged");
    // Its holds were released: the key (worth two requests) is served again.
    assert_eq!(chat(&pylon.base_url, &poison, false).await.status(), 200);

    let listed = console.get("/api/log/dead_letters?p=1&page_size=10").await;
    assert!(listed.success(), "{:?}", listed.data());
    assert_eq!(listed.data()["total"], 2);
    let item = &listed.data()["items"][0];
    assert_eq!(item["token_id"], poison_id);
    assert_eq!(item["quota"], PRICE);
    assert!(
        item["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused by test")),
        "{item}"
    );
    let record: Value =
        serde_json::from_str(item["record"].as_str().expect("record")).expect("json");
    assert_eq!(record["token_name"], "poison");
    let user = console_with_role(&pylon, &db, "plain-user", 1).await;
    assert!(!user.get("/api/log/dead_letters").await.success());
    db.close().await;
}
on_every_backend!(a_row_the_database_refuses_is_set_aside);

/// Redis unreachable (MySQL + Redis only: the embedded mode has no Redis): admission answers
/// 503 with Retry-After within `cache.command_timeout_ms` instead of hanging for the outage, and
/// serves again once Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_answered_fast_with_503() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let target = pylon_tests::backend::redis_url()
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    let gate = pylon_tests::outage::Gate::start(target)
        .await
        .expect("gate");
    let pylon = Pylon::builder(Backend::MySqlRedis)
        .redis_via(gate.addr())
        .env("PYLON__CACHE__COMMAND_TIMEOUT_MS", "500")
        .start()
        .await;
    let (_, key) = setup_key(&pylon, &mock, "redis-outage", 10 * PRICE).await;
    assert_eq!(chat(&pylon.base_url, &key, false).await.status(), 200);

    gate.cut();
    let asked = Instant::now();
    let answer = chat(&pylon.base_url, &key, false).await;
    let waited = asked.elapsed();
    assert_eq!(answer.status(), 503);
    assert!(answer.headers().contains_key("retry-after"));
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    let body: Value = answer.json().await.expect("OpenAI error");
    assert_eq!(body["error"]["code"], "billing_unavailable");

    gate.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while chat(&pylon.base_url, &key, false).await.status() != 200 {
        assert!(
            Instant::now() < deadline,
            "not served again after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
