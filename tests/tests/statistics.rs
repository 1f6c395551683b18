//! Statistics from the per-hour usage aggregates, on SQLite and on MySQL + Redis: requests
//! relayed through a mock upstream are aggregated in the settlement transaction, so that the
//! aggregates equal the sums of the log rows; a replayed settlement batch counts nothing twice;
//! `/api/log/stat`, `/api/log/self/stat`, `/api/data/` and `/api/data/self` answer the sums of
//! the logs (whole hours from the aggregates, the whole minutes of ragged edges from everyone's
//! per-minute rows, seconds and key names from the logs).

use pylon_benches::mock::{MockConfig, MockUpstream};
use pylon_shared::config::Config;
use pylon_shared::db::{Db, LOG_TYPE_CONSUME, LOG_TYPE_ERROR, RelayRecord};
use pylon_tests::fixtures::*;
use pylon_tests::{Backend, Pylon, on_every_backend};
use serde_json::{Value, json};

const MODEL: &str = "gpt-test";
/// The model of the records the test settles itself, in an earlier hour.
const OLD_MODEL: &str = "gpt-old";

/// `[requests, quota, prompt, completion, cached]` of `FROM ... WHERE ...` on logs (consume
/// rows) or on the aggregates.
async fn sums(pool: &sqlx::AnyPool, sql: String, binds: &[Value]) -> Vec<i64> {
    let mut query = sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            Value::String(s) => query.bind(s.clone()),
            other => query.bind(other.as_i64().expect("integer bind")),
        };
    }
    let (a, b, c, d, e) = query.fetch_one(pool).await.expect("sums");
    vec![a, b, c, d, e]
}

fn sum(column: &str) -> String {
    format!("CAST(COALESCE(SUM({column}), 0) AS SIGNED)")
}

async fn log_sums(pool: &sqlx::AnyPool, filter: &str, binds: &[Value]) -> Vec<i64> {
    let columns = [
        "quota",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
    ]
    .map(sum)
    .join(", ");
    let sql = format!("SELECT COUNT(*), {columns} FROM logs WHERE type = 2{filter}");
    sums(pool, sql, binds).await
}

async fn aggregate_sums(pool: &sqlx::AnyPool) -> Vec<i64> {
    let columns = [
        "requests",
        "quota",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
    ]
    .map(sum)
    .join(", ");
    let per_key = sums(pool, format!("SELECT {columns} FROM usage_hourly"), &[]).await;
    let everyone = sums(
        pool,
        format!("SELECT {columns} FROM usage_hourly_models"),
        &[],
    )
    .await;
    assert_eq!(
        per_key, everyone,
        "everyone's aggregates are the per-key ones summed"
    );
    for level in ["usage_model_hours", "usage_model_minutes"] {
        let summed = sums(pool, format!("SELECT {columns} FROM {level}"), &[]).await;
        assert_eq!(summed, per_key, "{level} sums the same records");
    }
    per_key
}

/// Each aggregate row against the logs of its key: `(hour, user, key, model, channel, group)`
/// with its requests and quota, from both sides, sorted.
async fn per_key(pool: &sqlx::AnyPool) -> (Vec<(i64, i64, i64)>, Vec<(i64, i64, i64)>) {
    let aggregated = sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT hour, requests, quota FROM usage_hourly WHERE requests > 0 \
         ORDER BY hour, model_name, token_id",
    )
    .fetch_all(pool)
    .await
    .expect("aggregates");
    let logged = sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT created_at - created_at % 3600 AS h, COUNT(*), CAST(SUM(quota) AS SIGNED) \
         FROM logs WHERE type = 2 GROUP BY h, user_id, token_id, model_name, channel_id, `group` \
         ORDER BY h, model_name, token_id",
    )
    .fetch_all(pool)
    .await
    .expect("logs");
    (aggregated, logged)
}

async fn shared_db(pylon: &Pylon) -> Db {
    let env = vec![("PYLON__DATABASE__URL".to_string(), pylon.database_url())];
    let config = Config::load(None, env).expect("config");
    Db::connect(&config).await.expect("connect")
}

fn record(id: &str, at: i64, log_type: i64, token_id: i64, quota: i64) -> RelayRecord {
    RelayRecord {
        request_id: id.into(),
        created_at: at,
        log_type,
        user_id: 1,
        username: "root".into(),
        token_id,
        token_name: "stats-key".into(),
        charge_token: true,
        channel_id: 0,
        group: "default".into(),
        model_name: OLD_MODEL.into(),
        quota,
        prompt_tokens: 11,
        completion_tokens: 13,
        cached_tokens: 3,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

fn stat_of(answer: &pylon_tests::client::Answer) -> Vec<i64> {
    assert!(answer.success(), "{answer:?}");
    let d = answer.data();
    ["requests", "quota", "prompt_tokens", "completion_tokens"]
        .iter()
        .map(|f| d[*f].as_i64().unwrap_or_else(|| panic!("{f} in {d}")))
        .collect()
}

async fn aggregates_equal_logs_and_answer_stats(backend: Backend) {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock");
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    set_option(&console, "ModelRatio", &json!({ MODEL: 1.5 }).to_string()).await;
    set_option(
        &console,
        "CompletionRatio",
        &json!({ MODEL: 2 }).to_string(),
    )
    .await;
    let channel_id = create_channel(
        &console,
        json!({
            "type": 1, "name": "mock", "key": "upstream-key", "base_url": mock.base_url(),
            "models": MODEL, "group": "default", "priority": 0, "weight": 0,
        }),
    )
    .await;
    let (token_id, key) = create_key(&console, "stats-key", 10_000_000, false).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let db = database(&pylon).await;

    // Four relayed requests, two streamed.
    for stream in [false, true, false, true] {
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", pylon.base_url))
            .bearer_auth(&key)
            .json(&json!({"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .expect("relay");
        assert_eq!(answer.status(), 200);
        answer.bytes().await.expect("body");
    }
    eventually_equals(&db, "SELECT COUNT(*) FROM logs WHERE type = 2", 4).await;
    let relayed = log_sums(&db, "", &[]).await;
    assert_eq!(relayed[0], 4);
    assert!(relayed[1] > 0, "priced requests cost quota: {relayed:?}");
    assert_eq!(aggregate_sums(&db).await, relayed);
    let (aggregated, logged) = per_key(&db).await;
    assert_eq!(aggregated, logged);

    // A batch settled two hours back at a ragged second: two requests and an error; then the
    // same batch again (an uncertain failure retried) with one new record: only that counts.
    let shared = shared_db(&pylon).await;
    let now = pylon_shared::db::now_secs();
    let old = now - now % 3600 - 2 * 3600 + 1234;
    let batch = vec![
        record("req_stats_old_1", old, LOG_TYPE_CONSUME, token_id, 1_000),
        record(
            "req_stats_old_2",
            old + 60,
            LOG_TYPE_CONSUME,
            token_id,
            2_000,
        ),
        record("req_stats_old_err", old + 61, LOG_TYPE_ERROR, token_id, 0),
    ];
    assert_eq!(shared.apply_relay_records(&batch).await.expect("apply"), 3);
    let mut replay = batch.clone();
    replay.push(record(
        "req_stats_old_3",
        old + 3000,
        LOG_TYPE_CONSUME,
        token_id,
        4_000,
    ));
    assert_eq!(
        shared.apply_relay_records(&replay).await.expect("replay"),
        1
    );
    let all = log_sums(&db, "", &[]).await;
    assert_eq!(all[0], 7);
    assert_eq!(all[1], relayed[1] + 7_000);
    assert_eq!(aggregate_sums(&db).await, all, "nothing counted twice");
    let (aggregated, logged) = per_key(&db).await;
    assert_eq!(aggregated, logged);
    assert_eq!(
        scalar(&db, "SELECT CAST(SUM(errors) AS SIGNED) FROM usage_hourly").await,
        1
    );

    // The stat routes answer the logs' sums: unfiltered, by model, by channel, by user, by key
    // name (from the logs), and over a range with ragged edges in the middle of hours.
    let stat = |path: String| {
        let console = &console;
        async move { stat_of(&console.get(&path).await) }
    };
    assert_eq!(stat("/api/log/stat".into()).await, all[..4].to_vec());
    assert_eq!(
        stat("/api/log/self/stat?type=2".into()).await,
        all[..4].to_vec()
    );
    assert_eq!(
        stat(format!("/api/log/stat?model_name={MODEL}")).await,
        relayed[..4].to_vec()
    );
    assert_eq!(
        stat(format!("/api/log/stat?channel={channel_id}")).await,
        relayed[..4].to_vec()
    );
    assert_eq!(
        stat("/api/log/stat?username=root&group=default".into()).await,
        all[..4].to_vec()
    );
    assert_eq!(
        stat("/api/log/stat?username=nobody".into()).await,
        vec![0, 0, 0, 0]
    );
    assert_eq!(
        stat("/api/log/self/stat?token_name=stats-key".into()).await,
        all[..4].to_vec()
    );
    // From a ragged second in the old hour to now: whole hours between from the aggregates.
    let start = old + 30;
    let ranged = log_sums(
        &db,
        " AND created_at >= ? AND created_at <= ?",
        &[json!(start), json!(now)],
    )
    .await;
    assert_eq!(ranged[0], 6, "all but the first old request");
    assert_eq!(
        stat(format!(
            "/api/log/stat?start_timestamp={start}&end_timestamp={now}"
        ))
        .await,
        ranged[..4].to_vec()
    );
    // Inside one hour: the logs alone.
    assert_eq!(
        stat(format!(
            "/api/log/stat?start_timestamp={start}&end_timestamp={}",
            old + 100
        ))
        .await,
        vec![1, 2_000, 11, 13]
    );
    // Exactly the old hour: the aggregates alone (the third old request is an hour later).
    let whole = now - now % 3600 - 2 * 3600;
    assert_eq!(
        stat(format!(
            "/api/log/stat?start_timestamp={whole}&end_timestamp={}",
            whole + 3599
        ))
        .await,
        vec![2, 3_000, 22, 26]
    );
    // rpm and tpm: the last minute's relayed requests (the old ones are hours back).
    let answer = console.get("/api/log/stat").await;
    assert_eq!(answer.data()["rpm"], json!(4), "{answer:?}");
    assert_eq!(answer.data()["tpm"], json!(relayed[2] + relayed[3]));

    // Dashboard data: one bar per model and hour, summing to the logs.
    let bars = console
        .get(&format!(
            "/api/data/?start_timestamp={}&end_timestamp={now}",
            now - 86_400
        ))
        .await;
    assert!(bars.success(), "{bars:?}");
    let items = bars.data().as_array().expect("bars").clone();
    assert_eq!(
        items[..2],
        [
            json!({"model_name": OLD_MODEL, "created_at": whole, "count": 2, "quota": 3_000,
                   "token_used": 48}),
            json!({"model_name": OLD_MODEL, "created_at": whole + 3600, "count": 1,
                   "quota": 4_000, "token_used": 24}),
        ]
    );
    // The relayed requests may straddle an hour: compare them by total.
    let relayed_bars: Vec<&Value> = items.iter().filter(|b| b["model_name"] == MODEL).collect();
    let count: i64 = relayed_bars
        .iter()
        .map(|b| b["count"].as_i64().unwrap_or(0))
        .sum();
    let quota: i64 = relayed_bars
        .iter()
        .map(|b| b["quota"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!((count, quota), (4, relayed[1]));
    let own = console
        .get(&format!(
            "/api/data/self?start_timestamp={}&end_timestamp={now}",
            now - 86_400
        ))
        .await;
    assert_eq!(own.data(), bars.data(), "root is the only user");
    let named = console
        .get(&format!(
            "/api/data/?username=root&start_timestamp={}&end_timestamp={now}",
            now - 86_400
        ))
        .await;
    assert_eq!(named.data(), bars.data());
    let nobody = console
        .get(&format!(
            "/api/data/?username=nobody&start_timestamp=0&end_timestamp={now}"
        ))
        .await;
    assert_eq!(nobody.data(), &json!([]), "{nobody:?}");
    // Bad input: a clear error, in the envelope.
    let missing = console.get("/api/data/?end_timestamp=5").await;
    assert!(!missing.success());
    assert!(missing.message().contains("start_timestamp"), "{missing:?}");
    let too_long = console
        .get(&format!(
            "/api/data/self?start_timestamp={}&end_timestamp={now}",
            now - 40 * 86_400
        ))
        .await;
    assert!(!too_long.success(), "{too_long:?}");
    let not_number = console
        .get("/api/data/?start_timestamp=x&end_timestamp=5")
        .await;
    assert!(!not_number.success());
    db.close().await;
}
on_every_backend!(aggregates_equal_logs_and_answer_stats);

/// The whole minutes of a partial hour come from everyone's per-minute rows once those hold
/// every record (the log rows of those minutes are not read: a row deleted behind the
/// aggregates' back still counts), and from the logs before; the retention prunes the minutes.
async fn partial_hours_read_the_minutes(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let console = root_console(&pylon).await;
    let db = database(&pylon).await;
    let shared = shared_db(&pylon).await;
    let now = pylon_shared::db::now_secs();
    let base = now - now % 3600 - 3 * 3600;
    let mut other = record("req_minutes_other", base + 1800, LOG_TYPE_CONSUME, 0, 500);
    other.model_name = "gpt-other".into();
    let batch = vec![
        record("req_minutes_1", base + 1234, LOG_TYPE_CONSUME, 0, 1_000),
        record("req_minutes_2", base + 1294, LOG_TYPE_CONSUME, 0, 2_000),
        record("req_minutes_err", base + 1300, LOG_TYPE_ERROR, 0, 0),
        other,
        record("req_minutes_3", base + 4000, LOG_TYPE_CONSUME, 0, 4_000),
        record("req_minutes_4", base + 4090, LOG_TYPE_CONSUME, 0, 8_000),
    ];
    assert_eq!(shared.apply_relay_records(&batch).await.expect("apply"), 6);
    aggregate_sums(&db).await;
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM usage_model_minutes").await,
        5,
        "a row per minute and model: 20:00, 21:00 (a request and the error), 30:00 (another \
         model), 66:00 and 68:00"
    );
    let set_since = |since: i64| {
        let db = &db;
        async move {
            sqlx::query("UPDATE usage_levels SET since = ? WHERE name = 'model_minutes'")
                .bind(since)
                .execute(db)
                .await
                .expect("since");
        }
    };
    let stat = |query: String| {
        let console = &console;
        async move { stat_of(&console.get(&format!("/api/log/stat?{query}")).await) }
    };
    // Ragged at both ends and inside no whole hour: 1100 .. 4100 after the hour.
    let range = format!(
        "start_timestamp={}&end_timestamp={}",
        base + 1100,
        base + 4100
    );
    let everything = vec![5, 15_500, 55, 65];
    // The minutes started after these records (the migration's time): the logs answer.
    assert!(scalar(&db, "SELECT since FROM usage_levels").await > base + 4100);
    assert_eq!(stat(range.clone()).await, everything);
    set_since(0).await;
    assert_eq!(stat(range.clone()).await, everything, "the minutes agree");
    assert_eq!(
        stat(format!("{range}&model_name=gpt-other")).await,
        vec![1, 500, 11, 13]
    );
    // A log row of a whole minute gone behind the aggregates' back: still counted, so the
    // minutes answered; the seconds at the ends (4080 .. 4100) still come from the logs.
    sqlx::query("DELETE FROM logs WHERE request_id IN ('req_minutes_1', 'req_minutes_4')")
        .execute(&db)
        .await
        .expect("delete");
    assert_eq!(stat(range.clone()).await, vec![4, 7_500, 44, 52]);
    set_since(now + 60).await;
    assert_eq!(
        stat(range.clone()).await,
        vec![3, 6_500, 33, 39],
        "before the minutes hold everything, the logs answer"
    );
    // The retention prunes the minutes before its cut-off, oldest hour first.
    set_since(0).await;
    assert_eq!(
        shared
            .delete_usage_minutes_before(base + 1260)
            .await
            .expect("prune"),
        1
    );
    assert_eq!(
        shared
            .delete_usage_minutes_before(base + 1260)
            .await
            .expect("prune"),
        0
    );
    assert_eq!(stat(range).await, vec![3, 6_500, 33, 39]);
    db.close().await;
}
on_every_backend!(partial_hours_read_the_minutes);
