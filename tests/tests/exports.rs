//! Exports (issue 13, seed 002), on SQLite and on MySQL + Redis, with the control plane served
//! in this process: administrators download users, orders, usage and upstream channels as CSV,
//! streamed a batch of rows at a time (an export larger than a batch arrives whole and in
//! order), escaped for spreadsheets and without any secret; a user exports their own data as
//! JSON and nobody else's.

use pylon_shared::db::{LOG_TYPE_CONSUME, NewTopUp, RelayRecord, now_secs};
use pylon_tests::fixtures::create_channel;
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;

const UPSTREAM_KEYS: &str = "sk-upstream-one\nsk-upstream-two\nsk-upstream-three";

fn record(i: i64, user_id: i64) -> RelayRecord {
    RelayRecord {
        request_id: format!("export-{i}"),
        // One row per hour: each is its own aggregate.
        created_at: now_secs() - 3_600 * (3_000 - i),
        log_type: LOG_TYPE_CONSUME,
        user_id,
        username: "alice".into(),
        token_id: 9,
        model_name: "gpt-export".into(),
        group: "default".into(),
        quota: 7,
        prompt_tokens: 2,
        completion_tokens: 1,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

async fn download(console: &Console, path: &str) -> (u16, String, String) {
    console.get_text(path).await
}

async fn administrators_download_csv_and_users_their_own_data(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let db = &plane.state.db;
    let alice = root
        .post(
            "/api/user/",
            json!({"username": "alice", "password": PASSWORD,
                "display_name": "=HYPERLINK(\"x\"), Inc"}),
        )
        .await;
    assert!(alice.success(), "{alice:?}");
    let mut alice = Console::new(&plane.base_url);
    alice.login("alice", PASSWORD).await;
    let alice_id = alice.user_id.expect("alice");
    db.create_top_up(&NewTopUp {
        user_id: alice_id,
        amount: 5,
        quota: 2_500_000,
        money_cents: 3650,
        currency: "CNY",
        trade_no: "EXPORT-ORDER-1",
        payment_method: "alipay",
        payment_provider: "epay",
        plan_id: 0,
        subscription_plan_id: 0,
    })
    .await
    .expect("order");
    let records: Vec<RelayRecord> = (0..2_500).map(|i| record(i, alice_id)).collect();
    for batch in records.chunks(500) {
        db.apply_relay_records(batch).await.expect("logs");
    }
    create_channel(
        &root,
        json!({"type": 1, "name": "upstream, main", "key": UPSTREAM_KEYS,
            "base_url": "http://127.0.0.1:9", "models": "gpt-export", "group": "default"}),
    )
    .await;

    let (status, kind, users) = download(&root, "/api/export/users.csv").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let lines: Vec<&str> = users.lines().collect();
    assert_eq!(
        lines[0],
        "id,username,display_name,email,role,status,group,quota,used_quota,request_count,created_at"
    );
    assert_eq!(lines.len(), 3, "root and alice: {users}");
    assert!(
        lines[2].contains("\"'=HYPERLINK(\"\"x\"\"), Inc\""),
        "quoted, and not a formula: {}",
        lines[2]
    );
    assert!(!users.contains("$argon2"), "no password hashes");

    let (_, _, orders) = download(&root, "/api/export/orders.csv").await;
    assert!(
        orders.contains("EXPORT-ORDER-1,alipay,epay,pending,5,2500000,3650,CNY"),
        "{orders}"
    );

    // 2 500 hours of usage: three batches, every row once, in id order.
    let (_, _, usage) = download(&root, "/api/export/usage.csv").await;
    let rows: Vec<&str> = usage.lines().skip(1).collect();
    assert_eq!(rows.len(), 2_500);
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");
    assert!(
        rows.iter().all(|row| row.ends_with(",1,0,2,1,0,7")),
        "{}",
        rows[0]
    );

    let (_, _, channels) = download(&root, "/api/export/upstream_keys.csv").await;
    // A row per key of the channel, the key masked, with its status.
    assert_eq!(channels.lines().count(), 4, "{channels}");
    let row = channels.lines().nth(1).expect("the channel's first key");
    assert!(
        row.contains("\"upstream, main\",1,1,default,0,sk-u**********-one,1,"),
        "{row}"
    );
    assert!(!channels.contains("sk-upstream"), "never a key: {channels}");

    // Users export their own data, and may not download the CSVs.
    let (status, _, refused) = download(&alice, "/api/export/users.csv").await;
    assert!(
        status != 200 || refused.contains("\"success\":false"),
        "{refused}"
    );
    let own = alice.get("/api/export/self").await;
    assert!(own.success(), "{own:?}");
    assert_eq!(own.data()["user"]["username"], "alice");
    assert_eq!(own.data()["orders"][0]["trade_no"], "EXPORT-ORDER-1");
    assert_eq!(own.data()["usage"]["requests"], 2_500);
    assert_eq!(own.data()["logs"].as_array().unwrap().len(), 1_000);
    assert!(own.data()["user"].get("password").is_none());
    let root_own = root.get("/api/export/self").await;
    assert_eq!(root_own.data()["orders"], json!([]), "nobody else's orders");
    assert_eq!(root_own.data()["logs"], json!([]));
}
on_every_backend!(administrators_download_csv_and_users_their_own_data);
