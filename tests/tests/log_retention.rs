//! Log retention, on SQLite and on MySQL + Redis, with the control plane served in this
//! process: request log rows past the retention age are deleted in small batches by the
//! background task, newer rows and the per-hour aggregates stay, and the `LogRetentionDays`
//! option overrides the configured age.

use pylon_shared::db::{LOG_TYPE_CONSUME, RelayRecord, now_secs};
use pylon_tests::fixtures::{eventually_equals, scalar, set_option};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};

const DAY: i64 = 86_400;

fn record(id: String, created_at: i64) -> RelayRecord {
    RelayRecord {
        request_id: id,
        created_at,
        log_type: LOG_TYPE_CONSUME,
        user_id: 1,
        username: "root".into(),
        token_id: 7,
        token_name: "retention-key".into(),
        group: "default".into(),
        model_name: "gpt-retention".into(),
        prompt_tokens: 11,
        completion_tokens: 13,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

const OLD_LOGS: &str = "SELECT COUNT(*) FROM logs WHERE request_id LIKE 'old-%'";
const NEW_LOGS: &str = "SELECT COUNT(*) FROM logs WHERE request_id LIKE 'new-%'";
const OLDER_LOGS: &str = "SELECT COUNT(*) FROM logs WHERE request_id LIKE 'older-%'";
const AGGREGATED: &str = "SELECT CAST(COALESCE(SUM(requests), 0) AS SIGNED) FROM usage_hourly \
                          WHERE model_name = 'gpt-retention'";
const AGGREGATED_TOKENS: &str = "SELECT CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED) \
                                 FROM usage_hourly WHERE model_name = 'gpt-retention'";

async fn old_logs_go_new_logs_and_aggregates_stay(backend: Backend) {
    let settings = [
        ("LOG_RETENTION_DAYS", "30"),
        ("LOG_RETENTION_BATCH", "100"),
        ("LOG_RETENTION_PAUSE_MS", "5"),
        ("LOG_RETENTION_INTERVAL_SECS", "1"),
    ]
    .map(|(k, v)| (format!("PYLON__CONTROL_PLANE__{k}"), v.to_string()))
    .to_vec();
    let plane = InProcess::start_with(backend, settings).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&plane.state.config.database.url)
        .await
        .expect("database");

    // 250 rows 40 days old (three batches), 20 rows 20 days old, 5 fresh ones.
    let now = now_secs();
    let mut records: Vec<RelayRecord> = (0..250)
        .map(|i| record(format!("old-{i}"), now - 40 * DAY + i))
        .collect();
    records.extend((0..20).map(|i| record(format!("older-{i}"), now - 20 * DAY + i)));
    records.extend((0..5).map(|i| record(format!("new-{i}"), now - i)));
    for batch in records.chunks(50) {
        plane
            .state
            .db
            .apply_relay_records(batch)
            .await
            .expect("settle");
    }
    let aggregated = scalar(&pool, AGGREGATED).await;
    let tokens = scalar(&pool, AGGREGATED_TOKENS).await;
    assert_eq!((aggregated, tokens), (275, 275 * 11));

    // Past 30 days: gone, in batches; the rest and every aggregate stay.
    eventually_equals(&pool, OLD_LOGS, 0).await;
    assert_eq!(scalar(&pool, OLDER_LOGS).await, 20);
    assert_eq!(scalar(&pool, NEW_LOGS).await, 5);
    assert_eq!(scalar(&pool, AGGREGATED).await, aggregated);
    assert_eq!(scalar(&pool, AGGREGATED_TOKENS).await, tokens);

    // The option overrides the configured age; a bad value is refused.
    let refused = root
        .send(
            reqwest::Method::PUT,
            "/api/option/",
            Some(r#"{"key": "LogRetentionDays", "value": "a week"}"#.to_string()),
        )
        .await;
    assert!(!refused.success(), "{refused:?}");
    assert_eq!(scalar(&pool, OLDER_LOGS).await, 20);
    set_option(&root, "LogRetentionDays", "10").await;
    eventually_equals(&pool, OLDER_LOGS, 0).await;
    assert_eq!(scalar(&pool, NEW_LOGS).await, 5);
    assert_eq!(scalar(&pool, AGGREGATED).await, aggregated);
}
on_every_backend!(old_logs_go_new_logs_and_aggregates_stay);
