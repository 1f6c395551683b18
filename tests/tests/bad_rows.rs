//! Data in the database never stops a process from starting, on SQLite and on MySQL + Redis:
//! rows an operator or an old bug left unreadable (a REAL where an integer belongs, text in a
//! number column, a blob for text, malformed JSON in a channel, an option that is no JSON) are
//! written directly with SQL; both processes start again, the good key and channel answer, and
//! every bad row is reported (log line with its table and id, `db_rows_skipped_total`).

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::json;
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-test";

fn channel(name: &str, base_url: &str, priority: i64) -> serde_json::Value {
    json!({
        "type": 1, "name": name, "key": "upstream-key", "base_url": base_url, "models": MODEL,
        "group": "default", "priority": priority, "weight": 0,
    })
}

/// Runs one statement the test needs (a bad row written behind Pylon's back).
async fn execute(db: &sqlx::AnyPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Waits (up to 5 s) until the logs hold a report of the row `id` of `table`.
async fn reported(pylon: &Pylon, table: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let table = format!("table=\"{table}\"");
    let id = format!("id=\"{id}\"");
    loop {
        let logs = without_colours(&pylon.logs());
        if logs
            .lines()
            .any(|l| l.contains("skipped a stored row") && l.contains(&table) && l.contains(&id))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no report of {table} {id}:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `text` without its ANSI colour sequences (the log colours field names).
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

async fn chat(pylon: &Pylon, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("relay answers")
}

async fn bad_rows_are_reported_and_skipped(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let mut pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    let good = create_channel(&console, channel("good", &mock.base_url(), 0)).await;
    // Preferred over the good one if it loaded: its mapping sends the model nowhere.
    let mapped = create_channel(&console, channel("mapped", "http://127.0.0.1:9", 10)).await;
    let (_, key) = create_key(&console, "good", 1_000_000, false).await;
    let (bad_key_id, bad_key) = create_key(&console, "bad", 1_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    execute(
        &db,
        &format!("UPDATE channels SET model_mapping = '{{\"gpt-test\": ' WHERE id = {mapped}"),
    )
    .await;
    execute(
        &db,
        "INSERT INTO options (`key`, value) VALUES ('CompletionRatio', '{not json')",
    )
    .await;
    let mut expected_channels = 1;
    let sqlite = matches!(backend, Backend::Sqlite);
    if sqlite {
        // SQLite stores whatever it is given: a REAL balance (what an absurd usage once left),
        // text in a number column, a blob for text.
        execute(
            &db,
            &format!("UPDATE tokens SET remain_quota = 2.5e30 WHERE id = {bad_key_id}"),
        )
        .await;
        let texty = create_channel(&console, channel("texty", "http://127.0.0.1:9", 20)).await;
        execute(
            &db,
            &format!("UPDATE channels SET priority = 'high' WHERE id = {texty}"),
        )
        .await;
        expected_channels += 1;
        execute(
            &db,
            "INSERT INTO options (`key`, value) VALUES ('Notice', X'00FF')",
        )
        .await;
    } else {
        // MySQL's typed columns refuse those; a channel whose base URL is no URL is its kind.
        let texty = create_channel(&console, channel("texty", "http://127.0.0.1:9", 20)).await;
        execute(
            &db,
            &format!("UPDATE channels SET base_url = 'not a url' WHERE id = {texty}"),
        )
        .await;
        expected_channels += 1;
    }
    db.close().await;

    // Both processes start again on these rows (start_again fails the test if either
    // does not come up).
    pylon.restart().await;
    reported(&pylon, "channels", &mapped.to_string()).await;
    let answer = chat(&pylon, &key).await;
    assert_eq!(answer.status(), 200, "the good key and channel answer");
    let db = database(&pylon).await;
    eventually_equals(
        &db,
        "SELECT COUNT(*) FROM logs WHERE type = 2 AND status_code = 200",
        1,
    )
    .await;
    let served_by = scalar(&db, "SELECT MAX(channel_id) FROM logs WHERE type = 2").await;
    assert_eq!(
        served_by, good,
        "served by the good channel, the others skipped"
    );
    let proxy_skips = metric(
        &pylon,
        "pylon_proxy_db_rows_skipped_total{table=\"channels\"}",
    )
    .await;
    assert!(
        proxy_skips >= expected_channels,
        "channel skips: {proxy_skips}"
    );
    let pricing = metric(
        &pylon,
        "pylon_proxy_db_rows_skipped_total{table=\"options\"}",
    )
    .await;
    assert!(pricing >= 1, "the malformed price option is reported");

    if sqlite {
        // The key whose balance is a REAL is refused as unknown (reported), never a 500.
        let answer = chat(&pylon, &bad_key).await;
        assert_eq!(answer.status(), 401, "{:?}", answer.text().await);
        reported(&pylon, "tokens", &bad_key_id.to_string()).await;
        reported(&pylon, "options", "Notice").await;
        let control_plane_skips = metric_at(
            &format!("{}/metrics", pylon.control_plane_url),
            "pylon_control_plane_db_rows_skipped_total{table=\"options\"}",
        )
        .await;
        assert!(
            control_plane_skips >= 1,
            "the control plane reports the option"
        );
        // The console still serves (settings loaded without the bad option).
        let status = console.get("/api/status").await;
        assert!(status.success(), "{status:?}");
    } else {
        let _ = bad_key;
    }
    db.close().await;
}
on_every_backend!(bad_rows_are_reported_and_skipped);
