//! The Redis scripts run by their SHA-1 (`EVALSHA`) and are loaded again when Redis has
//! forgotten them (a restart, `SCRIPT FLUSH`, a fail-over): a script Redis never saw runs on the
//! first call, and the relay keeps admitting and charging across a flush of Redis's script cache.

use fred::prelude::*;
use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_shared::cache::LuaScript;
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon};
use serde_json::{Value, json};

async fn redis() -> Client {
    let url = pylon_tests::backend::redis_url();
    let config = fred::types::config::Config::from_url(&url).expect("Redis URL");
    let client = Builder::from_config(config).build().expect("client");
    client.init().await.expect("Redis reachable");
    client
}

async fn known(client: &Client, sha: &str) -> bool {
    let known: Vec<bool> = client
        .script_exists(vec![sha])
        .await
        .expect("SCRIPT EXISTS");
    known == [true]
}

#[tokio::test]
async fn a_script_redis_never_saw_is_loaded_and_run() {
    let client = redis().await;
    // A text no other test runs, so Redis cannot have it cached: the first EVALSHA answers
    // NOSCRIPT and the script is loaded, then run.
    let text: &'static str = Box::leak(
        format!(
            "-- {}\nreturn tonumber(ARGV[1]) + redis.call('EXISTS', KEYS[1])",
            pylon_tests::backend::unique_name()
        )
        .into_boxed_str(),
    );
    let script = LuaScript::new(text);
    let sha = fred::util::sha1_hash(text);
    assert!(!known(&client, &sha).await, "a fresh script is not cached");

    let answer: i64 = script
        .run(&client, vec!["pylon-test:absent"], vec!["41"])
        .await
        .expect("loaded and run");
    assert_eq!(answer, 41);
    assert!(known(&client, &sha).await, "the first run loaded it");

    let answer: i64 = script
        .run(&client, vec!["pylon-test:absent"], vec!["1"])
        .await
        .expect("run by hash");
    assert_eq!(answer, 1);
}

/// Two relayed requests with `SCRIPT FLUSH` between them: admission and settlement (both
/// scripts) still work, and both requests are charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_reloads_its_scripts_after_a_flush() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(Backend::MySqlRedis).await;
    let console = root_console(&pylon).await;
    set_option(&console, "ModelRatio", &json!({"gpt-test": 1}).to_string()).await;
    create_channel(
        &console,
        json!({
            "type": 1, "name": "mock", "key": "upstream-key", "base_url": mock.base_url(),
            "models": "gpt-test", "group": "default", "priority": 0, "weight": 0,
        }),
    )
    .await;
    let (_, key) = create_key(&console, "flushed", 1_000_000, false).await;
    wait_until_routable(&pylon, &key, "gpt-test").await;
    let db = database(&pylon).await;
    let client = redis().await;
    let body = json!({"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]});

    for round in 1..=2 {
        let _: () = client.script_flush(false).await.expect("SCRIPT FLUSH");
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", pylon.base_url))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .expect("relay reachable");
        assert_eq!(answer.status(), 200, "round {round}");
        let answer: Value = answer.json().await.expect("json");
        assert!(
            answer["usage"]["total_tokens"].as_i64() > Some(0),
            "{answer}"
        );
    }
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'flushed' AND quota > 0",
        2,
    )
    .await;
}
