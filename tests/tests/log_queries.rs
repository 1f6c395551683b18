//! Log lists at scale (issue 13), on SQLite and on MySQL + Redis, with the control plane served
//! in this process: each filter of the log lists is read through an index (the databases'
//! plans say so), pages come newest first by page number or after a cursor (`before`, the
//! previous page's `next_before`) with the same rows, and the total is counted up to a cap.

use pylon_shared::db::{LOG_COUNT_CAP, LOG_TYPE_CONSUME, LogFilter, RelayRecord, now_secs};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::PASSWORD;
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::Value;

fn record(i: i64, now: i64) -> RelayRecord {
    RelayRecord {
        request_id: format!("req-{i}"),
        created_at: now - 10_000 + i,
        log_type: LOG_TYPE_CONSUME,
        user_id: 1 + i % 7,
        username: format!("user{}", i % 7),
        token_id: 100 + i % 11,
        token_name: format!("key{}", i % 11),
        channel_id: 1 + i % 3,
        group: if i % 5 == 0 { "vip" } else { "default" }.into(),
        model_name: format!("model-{}", i % 13),
        quota: 3,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

async fn log_filters_read_indexes_and_pages_agree(backend: Backend) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let db = &plane.state.db;
    let now = now_secs();
    let records: Vec<RelayRecord> = (0..3_000).map(|i| record(i, now)).collect();
    for batch in records.chunks(500) {
        db.apply_relay_records(batch).await.expect("logs written");
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&plane.state.config.database.url)
        .await
        .expect("database");
    // What the control plane's housekeeping does at start and every hour (SQLite); InnoDB
    // keeps its statistics itself, refreshed here at once rather than in the background.
    db.refresh_planner_statistics().await.expect("statistics");
    if backend == Backend::Sqlite {
        // Every index of the logs has its statistics, and a second refresh finds them up to
        // date (it analyses only what SQLite finds out of date: no long lock every hour).
        let analysed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'logs'")
                .fetch_one(&pool)
                .await
                .expect("statistics");
        assert_eq!(analysed, 11, "the request id's and ten other indexes");
        let due: Vec<String> = sqlx::query_scalar("PRAGMA optimize = 0x10003")
            .fetch_all(&pool)
            .await
            .expect("optimize");
        assert!(!due.iter().any(|line| line.contains("\"logs\"")), "{due:?}");
    }
    if backend == Backend::MySqlRedis {
        sqlx::query("ANALYZE TABLE logs")
            .execute(&pool)
            .await
            .expect("analyze");
    }

    // Every filter of the lists reads an index, never the whole table.
    let filters = [
        LogFilter {
            user_id: Some(3),
            ..LogFilter::default()
        },
        LogFilter {
            username: "user4".into(),
            ..LogFilter::default()
        },
        LogFilter {
            token_name: "key5".into(),
            ..LogFilter::default()
        },
        LogFilter {
            token_id: 105,
            ..LogFilter::default()
        },
        LogFilter {
            model_name: "model-7".into(),
            ..LogFilter::default()
        },
        LogFilter {
            channel_id: 2,
            ..LogFilter::default()
        },
        LogFilter {
            request_id: "req-42".into(),
            ..LogFilter::default()
        },
        LogFilter {
            group: "vip".into(),
            ..LogFilter::default()
        },
        LogFilter {
            start_timestamp: now - 100,
            end_timestamp: now,
            ..LogFilter::default()
        },
        // Seed 004's points ledger: one user's rows but the failed requests.
        LogFilter {
            user_id: Some(3),
            exclude_type: pylon_shared::db::LOG_TYPE_ERROR,
            ..LogFilter::default()
        },
        // One user's rows of a time range (a customer's own list of a day).
        LogFilter {
            user_id: Some(3),
            start_timestamp: now - 1_000,
            end_timestamp: now,
            ..LogFilter::default()
        },
        // Consume rows (nearly all of them) in a time range: the time index, not the type's.
        LogFilter {
            log_type: LOG_TYPE_CONSUME,
            start_timestamp: now - 100,
            end_timestamp: now,
            ..LogFilter::default()
        },
    ];
    for filter in &filters {
        let plan = db.explain_logs_page(filter).await.expect("plan");
        let indexed = pylon_tests::query_plans::reads_through_index(backend, &plan);
        assert!(indexed, "{filter:?} is not read through an index: {plan:?}");
        // A time range (alone, with the type or with the user) reads its index in order:
        // the page is the first entries, never a sort of every row in the range.
        let ranged_only = filter.start_timestamp > 0
            && filter.channel_id == 0
            && filter.token_id == 0
            && filter.username.is_empty()
            && filter.model_name.is_empty();
        if ranged_only {
            assert!(
                !pylon_tests::query_plans::sorts(&plan),
                "{filter:?} sorts its rows: {plan:?}"
            );
        }
    }
    // The sums over a time range (the partial hours of a statistic) read the time index, not
    // the type's, whose "consume" is nearly every row.
    let recent = LogFilter {
        log_type: LOG_TYPE_CONSUME,
        start_timestamp: now - 100,
        end_timestamp: now,
        ..LogFilter::default()
    };
    let reads_time_index = |plan: &[String]| match backend {
        Backend::Sqlite => plan.iter().any(|line| line.contains("idx_logs_time")),
        Backend::MySqlRedis => plan.iter().any(|line| line.contains(":idx_logs_time:")),
    };
    let plan = db.explain_logs_stat(&recent, false).await.expect("plan");
    assert!(
        reads_time_index(&plan),
        "a time range's sums read the time index: {plan:?}"
    );
    // The last minute of one model (new-api's rpm and tpm): the time index too, not the
    // model's, which would read every row of the model.
    let last_minute = LogFilter {
        model_name: "model-7".into(),
        ..recent.clone()
    };
    let plan = db
        .explain_logs_stat(&last_minute, true)
        .await
        .expect("plan");
    assert!(
        reads_time_index(&plan),
        "the last minute's sums read the time index: {plan:?}"
    );

    // Page numbers and the cursor give the same rows, newest first.
    let by_page = |p: i64| format!("/api/log/?p={p}&page_size=50&username=user2");
    let first = root.get(&by_page(1)).await;
    assert!(first.success(), "{first:?}");
    let ids = |answer: &pylon_tests::client::Answer| -> Vec<i64> {
        answer.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["id"].as_i64().unwrap())
            .collect()
    };
    let first_ids = ids(&first);
    assert_eq!(first_ids.len(), 50);
    assert!(first_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(
        first.data()["total"],
        429,
        "3000 rows, every 7th from user2"
    );
    assert_eq!(first.data()["total_capped"], false);
    let cursor = first.data()["next_before"].as_i64().expect("cursor");
    assert_eq!(cursor, *first_ids.last().unwrap());
    let second = root.get(&by_page(2)).await;
    let after = root
        .get(&format!(
            "/api/log/?page_size=50&username=user2&before={cursor}"
        ))
        .await;
    assert_eq!(
        ids(&second),
        ids(&after),
        "page 2 = the rows after page 1's cursor"
    );
    let last = root.get("/api/log/?page_size=50&username=user2&p=9").await;
    assert_eq!(ids(&last).len(), 29);
    assert_eq!(
        last.data()["next_before"],
        Value::Null,
        "no page after the last"
    );
    let refused = root.get("/api/log/?before=-4").await;
    assert!(!refused.success(), "{refused:?}");
    let one = root.get("/api/log/?request_id=req-42").await;
    assert_eq!(one.data()["total"], 1);
    assert_eq!(one.data()["items"][0]["model_name"], "model-3");

    // A time range's pages come newest first by time, and the cursor goes on where page 1
    // ended, also past a row written late (a slow request) with an older time.
    let late = RelayRecord {
        request_id: "req-late".into(),
        ..record(2_950, now)
    };
    db.apply_relay_records(&[late])
        .await
        .expect("late row written");
    let range = format!(
        "start_timestamp={}&end_timestamp={}",
        now - 10_000 + 2_900,
        now - 10_000 + 2_999
    );
    let times = |answer: &pylon_tests::client::Answer| -> Vec<(i64, i64)> {
        answer.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row["created_at"].as_i64().unwrap(),
                    row["id"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let mut by_number = Vec::new();
    let mut by_cursor = Vec::new();
    let mut cursor: Option<i64> = None;
    for p in 1..=4 {
        let page = root
            .get(&format!("/api/log/?p={p}&page_size=30&{range}"))
            .await;
        assert_eq!(page.data()["total"], 101, "{page:?}");
        by_number.extend(times(&page));
        let path = match cursor {
            None => format!("/api/log/?page_size=30&{range}"),
            Some(before) => format!("/api/log/?page_size=30&{range}&before={before}"),
        };
        let page = root.get(&path).await;
        by_cursor.extend(times(&page));
        cursor = page.data()["next_before"].as_i64();
    }
    assert_eq!(by_number.len(), 101, "every row of the range once");
    assert_eq!(by_number, by_cursor, "page numbers and the cursor agree");
    assert!(
        by_number.windows(2).all(|w| w[0] > w[1]),
        "newest first by time, then id"
    );
    let late_at = by_number
        .iter()
        .position(|(at, _)| *at == now - 10_000 + 2_950)
        .expect("the late row's time");
    assert!(
        by_number[late_at].1 > by_number[late_at + 1].1,
        "the late row comes before the row of its time written earlier"
    );

    // More rows than the cap: the total says so instead of counting them all.
    let more: Vec<RelayRecord> = (3_000..3_000 + LOG_COUNT_CAP)
        .map(|i| record(i, now))
        .collect();
    for batch in more.chunks(1_000) {
        db.apply_relay_records(batch).await.expect("logs written");
    }
    let capped = root.get("/api/log/?page_size=10").await;
    assert_eq!(capped.data()["total"], LOG_COUNT_CAP);
    assert_eq!(capped.data()["total_capped"], true);
    assert!(ids(&capped)[0] > 3_000, "the newest rows first");
    pool.close().await;
}
on_every_backend!(log_filters_read_indexes_and_pages_agree);
