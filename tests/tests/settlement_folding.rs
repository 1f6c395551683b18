//! A finished request's settlement (its hold replaced by the real charge) costs no Redis round
//! trip of its own: it rides on the node's next reservation. The client's next request on the
//! same node finds the hold released even when nothing else would send it; another node sees it
//! within `billing.settle_fold_ms`; and once the charge is written, no hold is left behind. On
//! SQLite (holds in the proxy's memory) the same sequence holds by construction.

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::json;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-fold";
/// Below one request's hold ((prompt + 1 000 × 2) × 1.5 at these ratios and `max_tokens`):
/// every request holds the key's whole balance, so the next one is admitted only once that hold
/// is released. Each costs (10 + 10 × 2) × 1.5 = 45 of it (the mock's usage); a request needs
/// (prompt + 16 × 2) × 1.5 at least, so about nine are admitted.
const BALANCE: i64 = 500;

async fn setup(pylon: &Pylon, mock: &MockUpstream) -> (i64, String) {
    let console = root_console(pylon).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    set_option(
        &console,
        "CompletionRatio",
        &json!({ MODEL: 2 }).to_string(),
    )
    .await;
    create_channel(&console, openai_channel("mock", &mock.base_url(), MODEL)).await;
    let (token_id, key) = create_key(&console, "fold", BALANCE, false).await;
    wait_until_routable(pylon, &key, MODEL).await;
    (token_id, key)
}

async fn chat(base_url: &str, key: &str) -> u16 {
    let answer = reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "max_tokens": 1000, "messages": []}))
        .send()
        .await
        .expect("relay reachable");
    let status = answer.status().as_u16();
    let _ = answer.bytes().await;
    status
}

/// The sum of the nodes' holds on the key, as Redis has them.
async fn held(pylon: &Pylon, token_id: i64) -> i64 {
    redis_hash(pylon, &format!("bal:t:{token_id}:held"))
        .await
        .values()
        .sum()
}

async fn next_request_finds_the_hold_released(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    // Nothing but a reservation sends a settlement during the test: were the settlement not
    // carried, the second request would find the first one's hold and be refused.
    let pylon = Pylon::builder(backend)
        .env("PYLON__BILLING__SETTLE_FOLD_MS", "600000")
        .env("PYLON__RELAY__FLUSH_INTERVAL_MS", "100")
        .start()
        .await;
    let (token_id, key) = setup(&pylon, &mock).await;

    let mut admitted = 0;
    loop {
        match chat(&pylon.base_url, &key).await {
            200 => admitted += 1,
            429 => break,
            other => panic!("unexpected status {other}"),
        }
        assert!(admitted < 100, "never refused");
    }
    assert!(
        admitted >= 2,
        "only {admitted} admitted: a hold outlived its request"
    );

    // Every charge is written, none overdraws, and no hold is left behind.
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND token_name = 'fold'",
        admitted,
    )
    .await;
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2 AND token_name = 'fold'",
    )
    .await;
    let remain = scalar_of(
        &db,
        "SELECT remain_quota FROM tokens WHERE id = ?",
        token_id,
    )
    .await;
    assert!(remain >= 0, "overdrawn: {remain}");
    assert_eq!(BALANCE - remain, logged);
    if backend == Backend::MySqlRedis {
        let deadline = Instant::now() + Duration::from_secs(10);
        while held(&pylon, token_id).await != 0 {
            assert!(
                Instant::now() < deadline,
                "a hold outlived its written charge: {}",
                held(&pylon, token_id).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    db.close().await;
}
on_every_backend!(next_request_finds_the_hold_released);

/// Another node sees a released hold once the node that made it sends its settlement on its
/// own, `billing.settle_fold_ms` after the answer (no reservation of that node carried it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_sees_the_release_after_the_fold_window() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::builder(Backend::MySqlRedis)
        .env("PYLON__BILLING__SETTLE_FOLD_MS", "300")
        .start()
        .await;
    let node = pylon.start_node().await;
    let (token_id, key) = setup(&pylon, &mock).await;
    wait_until_routable_at(&node.base_url, &key, MODEL).await;

    assert_eq!(chat(&pylon.base_url, &key).await, 200);
    let answered = Instant::now();
    // Until the first node sends the settlement, its hold is the whole balance.
    let mut refused_meanwhile = 0;
    let deadline = answered + Duration::from_secs(10);
    loop {
        let before = held(&pylon, token_id).await;
        if before < BALANCE {
            break;
        }
        assert!(Instant::now() < deadline, "the settlement was never sent");
        if chat(&node.base_url, &key).await == 429 {
            refused_meanwhile += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        answered.elapsed() >= Duration::from_millis(250),
        "sent before the fold window ended: {:?}",
        answered.elapsed()
    );
    assert!(refused_meanwhile > 0, "the other node never saw the hold");
    // Then the other node admits.
    assert_eq!(chat(&node.base_url, &key).await, 200);
}
