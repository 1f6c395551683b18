//! Several proxy nodes on one MySQL + Redis: together they never admit more than an account
//! has, and a balance set through the API applies on every node. (Embedded mode is one node
//! by design: its SQLite file and in-process cache belong to one machine; so this capability is
//! tested on MySQL + Redis only.)

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon};
use serde_json::json;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-test";

async fn stream(base_url: String, key: String) -> u16 {
    let answer = reqwest::Client::new()
        .post(format!("{base_url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "stream": true, "max_tokens": 20, "messages": []}))
        .send()
        .await
        .expect("reachable");
    let status = answer.status().as_u16();
    let _ = answer.text().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_admission_and_balance_edits() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(Backend::MySqlRedis).await;
    let node = pylon.start_node().await;
    let console = root_console(&pylon).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    set_option(
        &console,
        "CompletionRatio",
        &json!({ MODEL: 2 }).to_string(),
    )
    .await;
    let pacing = json!({"x-mock-chunk-interval-ms": "20", "x-mock-chunks": "10"}).to_string();
    create_channel(
        &console,
        json!({"type": 1, "name": "mock", "key": "k", "base_url": mock.base_url(), "models": MODEL,
               "group": "default", "header_override": pacing}),
    )
    .await;
    let (token_id, key) = create_key(&console, "shared", 1_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    wait_until_routable_at(&node.base_url, &key, MODEL).await;

    // 25 streams on each node at once; each reserves ~105, the key holds 1 000.
    let mut tasks = Vec::new();
    for base in [pylon.base_url.clone(), node.base_url.clone()] {
        for _ in 0..25 {
            tasks.push(tokio::spawn(stream(base.clone(), key.clone())));
        }
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.expect("task") {
            200 => admitted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        (1..=10).contains(&admitted),
        "admitted {admitted} of 50 against a balance for ~9"
    );

    let db = database(&pylon).await;
    let count = "SELECT COUNT(*) FROM logs WHERE type = 2";
    let deadline = Instant::now() + Duration::from_secs(5);
    while scalar(&db, count).await < admitted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(scalar(&db, count).await, admitted);
    let logged = scalar(
        &db,
        "SELECT CAST(SUM(quota) AS SIGNED) FROM logs WHERE type = 2",
    )
    .await;
    let remain: i64 = sqlx::query_scalar("SELECT remain_quota FROM tokens WHERE id = ?")
        .bind(token_id)
        .fetch_one(&db)
        .await
        .expect("token");
    assert!(remain >= 0, "overdrawn: {remain}");
    assert_eq!(1_000 - remain, logged);

    // Spend the rest from either node until refused, then raise the balance through the API:
    // both nodes admit again at once.
    while stream(node.base_url.clone(), key.clone()).await == 200 {}
    assert_eq!(stream(pylon.base_url.clone(), key.clone()).await, 429);
    let raised = console
        .send(
            reqwest::Method::PUT,
            "/api/token/",
            Some(json!({"id": token_id, "remain_quota": 100_000}).to_string()),
        )
        .await;
    assert!(raised.success(), "{raised:?}");
    assert_eq!(stream(node.base_url.clone(), key.clone()).await, 200);
    assert_eq!(stream(pylon.base_url.clone(), key.clone()).await, 200);
    db.close().await;
}
