//! new-api's dashboard and ranking data read from the per-hour usage aggregates (issue 13), on
//! SQLite and on MySQL + Redis, with the control plane served in this process: settled records
//! of two users in two hours are written through the settlement path, `/api/data/users`
//! answers one bar per user and hour with their sums, and the perf metrics their latency and
//! success rates.

use pylon_shared::db::{LOG_TYPE_CONSUME, LOG_TYPE_ERROR, RelayRecord, now_secs};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{PASSWORD, create_user};
use pylon_tests::{Backend, Console, on_every_backend};
use serde_json::json;

struct Usage {
    user_id: i64,
    username: &'static str,
    model: &'static str,
    at: i64,
    log_type: i64,
    quota: i64,
    use_time_ms: i64,
    ttft_ms: i64,
}

fn record(n: usize, u: &Usage) -> RelayRecord {
    RelayRecord {
        request_id: format!("req_dash_{n}"),
        created_at: u.at,
        log_type: u.log_type,
        user_id: u.user_id,
        username: u.username.into(),
        token_id: 0,
        token_name: "dash".into(),
        charge_token: false,
        channel_id: 0,
        group: "default".into(),
        model_name: u.model.into(),
        quota: u.quota,
        prompt_tokens: 10,
        completion_tokens: 20,
        use_time_ms: u.use_time_ms,
        ttft_ms: u.ttft_ms,
        is_stream: u.ttft_ms > 0,
        other: "{}".into(),
        ..RelayRecord::default()
    }
}

/// A control plane whose root is signed in, with [`settle_usage`]'s usage of alice and bob;
/// answers the plane, root's console, the first hour and alice's and bob's ids.
async fn with_settled_usage(backend: Backend) -> (InProcess, Console, i64, i64, i64) {
    let plane = InProcess::start(backend).await;
    let mut root = Console::new(&plane.base_url);
    root.setup_root("root", PASSWORD).await;
    root.login("root", PASSWORD).await;
    let alice = create_user(&root, "alice", 1).await;
    let bob = create_user(&root, "bob", 1).await;
    let hour = settle_usage(&plane, alice, bob).await;
    (plane, root, hour, alice, bob)
}

/// Two users' usage in the hour two hours back and the one after it; answers that first hour.
async fn settle_usage(plane: &InProcess, alice: i64, bob: i64) -> i64 {
    let now = now_secs();
    let hour = now - now % 3600 - 2 * 3600;
    let usages = [
        (
            alice,
            "alice",
            "gpt-a",
            hour + 10,
            LOG_TYPE_CONSUME,
            100,
            2_000,
            500,
        ),
        (
            alice,
            "alice",
            "gpt-b",
            hour + 20,
            LOG_TYPE_CONSUME,
            200,
            1_000,
            0,
        ),
        (alice, "alice", "gpt-a", hour + 30, LOG_TYPE_ERROR, 0, 0, 0),
        (
            bob,
            "bob",
            "gpt-a",
            hour + 40,
            LOG_TYPE_CONSUME,
            400,
            4_000,
            1_000,
        ),
        (
            bob,
            "bob",
            "gpt-a",
            hour + 3600,
            LOG_TYPE_CONSUME,
            800,
            3_000,
            0,
        ),
    ];
    let records: Vec<RelayRecord> = usages
        .iter()
        .enumerate()
        .map(
            |(n, (user_id, username, model, at, log_type, quota, use_time_ms, ttft_ms))| {
                record(
                    n,
                    &Usage {
                        user_id: *user_id,
                        username,
                        model,
                        at: *at,
                        log_type: *log_type,
                        quota: *quota,
                        use_time_ms: *use_time_ms,
                        ttft_ms: *ttft_ms,
                    },
                )
            },
        )
        .collect();
    let applied = plane
        .state
        .db
        .apply_relay_records(&records)
        .await
        .expect("settled");
    assert_eq!(applied, records.len());
    hour
}

async fn per_user_data_sums_the_aggregates(backend: Backend) {
    let (_plane, root, hour, alice, bob) = with_settled_usage(backend).await;
    let now = now_secs();

    let answer = root
        .get(&format!(
            "/api/data/users?start_timestamp={}&end_timestamp={now}",
            hour - 3600
        ))
        .await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(
        answer.data(),
        &json!([
            {"user_id": alice, "username": "alice", "created_at": hour, "count": 2,
             "quota": 300, "token_used": 60},
            {"user_id": bob, "username": "bob", "created_at": hour, "count": 1,
             "quota": 400, "token_used": 30},
            {"user_id": bob, "username": "bob", "created_at": hour + 3600, "count": 1,
             "quota": 800, "token_used": 30},
        ])
    );
    // Hours starting in the range only; bad ranges are refused in the envelope.
    let later = root
        .get(&format!(
            "/api/data/users?start_timestamp={}&end_timestamp={now}",
            hour + 1
        ))
        .await;
    assert_eq!(later.data().as_array().map(Vec::len), Some(1), "{later:?}");
    for query in [
        "",
        "?start_timestamp=5",
        "?start_timestamp=9&end_timestamp=5",
    ] {
        let refused = root.get(&format!("/api/data/users{query}")).await;
        assert!(!refused.success(), "{query}: {refused:?}");
    }
}

on_every_backend!(per_user_data_sums_the_aggregates);

async fn perf_metrics_sum_the_aggregates(backend: Backend) {
    let (plane, _root, hour, _alice, _bob) = with_settled_usage(backend).await;
    let anonymous = Console::new(&plane.base_url);

    let summary = anonymous.get("/api/perf-metrics/summary").await;
    assert!(summary.success(), "{summary:?}");
    assert_eq!(
        summary.data(),
        &json!({"models": [
            {"model_name": "gpt-a", "channel_id": 0, "avg_latency_ms": 3000, "avg_ttft_ms": 750,
             "success_rate": 75.0, "avg_tps": 6.67, "recent_success_rates": [66.67, 100.0]},
            {"model_name": "gpt-b", "channel_id": 0, "avg_latency_ms": 1000, "avg_ttft_ms": 0,
             "success_rate": 100.0, "avg_tps": 20.0, "recent_success_rates": [100.0]},
        ]})
    );
    // A one-hour window starts at the last whole hour: only the later hour's request.
    let recent = anonymous.get("/api/perf-metrics/summary?hours=1").await;
    assert_eq!(
        recent.data(),
        &json!({"models": [
            {"model_name": "gpt-a", "channel_id": 0, "avg_latency_ms": 3000, "avg_ttft_ms": 0,
             "success_rate": 100.0, "avg_tps": 6.67, "recent_success_rates": [100.0]},
        ]}),
        "{recent:?}"
    );

    let one = anonymous.get("/api/perf-metrics?model=gpt-a").await;
    assert!(one.success(), "{one:?}");
    assert_eq!(
        one.data(),
        &json!({"model_name": "gpt-a", "series_schema": "hourly", "groups": [
            {"group": "default", "channel_id": 0, "avg_ttft_ms": 750, "avg_latency_ms": 3000,
             "success_rate": 75.0, "avg_tps": 6.67, "series": [
                {"ts": hour, "channel_id": 0, "avg_ttft_ms": 750, "avg_latency_ms": 3000,
                 "success_rate": 66.67, "avg_tps": 6.67},
                {"ts": hour + 3600, "channel_id": 0, "avg_ttft_ms": 0, "avg_latency_ms": 3000,
                 "success_rate": 100.0, "avg_tps": 6.67},
             ]},
        ]})
    );
    let other_group = anonymous
        .get("/api/perf-metrics?model=gpt-a&group=vip")
        .await;
    assert_eq!(other_group.data()["groups"], json!([]), "{other_group:?}");
    let missing = anonymous.get("/api/perf-metrics").await;
    assert!(!missing.success(), "{missing:?}");
}

on_every_backend!(perf_metrics_sum_the_aggregates);

async fn rankings_sum_the_aggregates(backend: Backend) {
    let (plane, root, hour, alice, bob) = with_settled_usage(backend).await;
    // The two hours fall in one day unless they straddle midnight (UTC).
    let days = if hour / 86_400 == (hour + 3600) / 86_400 {
        1
    } else {
        2
    };
    let anonymous = Console::new(&plane.base_url);

    let public = anonymous.get("/api/rankings").await;
    assert!(public.success(), "{public:?}");
    let data = public.data();
    assert_eq!(
        data["models"],
        json!([
            {"rank": 1, "model_name": "gpt-a", "vendor": "Unknown", "category": "all",
             "total_tokens": 90, "share": 0.75, "growth_pct": 100.0},
            {"rank": 2, "model_name": "gpt-b", "vendor": "Unknown", "category": "all",
             "total_tokens": 30, "share": 0.25, "growth_pct": 100.0},
        ])
    );
    assert_eq!(
        data["vendors"],
        json!([{"rank": 1, "vendor": "Unknown", "total_tokens": 120, "share": 1.0,
                "growth_pct": 100.0, "models_count": 2, "top_model": "gpt-a"}])
    );
    assert_eq!(data["users"], json!([]), "usernames are not public");
    assert_eq!(data["top_movers"], json!([]));
    assert_eq!(
        data["models_history"]["buckets"],
        json!(days),
        "day buckets: {data}"
    );
    assert_eq!(
        data["models_history"]["models"],
        json!([{"name": "gpt-a", "vendor": "Unknown", "total": 90},
               {"name": "gpt-b", "vendor": "Unknown", "total": 30}])
    );

    let admin = root.get("/api/rankings?period=today").await;
    assert!(admin.success(), "{admin:?}");
    assert_eq!(
        admin.data()["users"],
        json!([
            {"rank": 1, "user_id": alice, "username": "alice", "display_name": "alice",
             "total_tokens": 60, "count": 2, "share": 0.5, "top_model": "gpt-a"},
            {"rank": 2, "user_id": bob, "username": "bob", "display_name": "bob",
             "total_tokens": 60, "count": 2, "share": 0.5, "top_model": "gpt-a"},
        ])
    );
    assert_eq!(
        admin.data()["models_history"]["buckets"],
        json!(2),
        "hourly buckets"
    );
    let points = admin.data()["vendor_share_history"]["points"]
        .as_array()
        .expect("points")
        .len();
    assert_eq!(points, 2, "one vendor in each of two hours: {admin:?}");
    let bad = anonymous.get("/api/rankings?period=decade").await;
    assert!(!bad.success(), "{bad:?}");
}

on_every_backend!(rankings_sum_the_aggregates);

/// Everyone's bars (`/api/data/`) are read packed an hour to a row; a model name the packed
/// text cannot be split by (a tab, a line break) makes the range read a row per bar, with the
/// same answer.
async fn everyones_bars_whatever_the_model_names(backend: Backend) {
    let (plane, root, hour, alice, _bob) = with_settled_usage(backend).await;
    let path = format!(
        "/api/data/?start_timestamp={hour}&end_timestamp={}",
        hour + 3600
    );
    let bars = |answer: &pylon_tests::client::Answer| -> Vec<serde_json::Value> {
        assert!(answer.success(), "{answer:?}");
        answer.data().as_array().expect("bars").clone()
    };
    let packed = bars(&root.get(&path).await);
    let summary: Vec<(&str, i64, i64, i64)> = packed
        .iter()
        .map(|b| {
            (
                b["model_name"].as_str().unwrap_or_default(),
                b["created_at"].as_i64().unwrap_or_default(),
                b["count"].as_i64().unwrap_or_default(),
                b["quota"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("gpt-a", hour, 2, 500),
            ("gpt-b", hour, 1, 200),
            ("gpt-a", hour + 3600, 1, 800)
        ]
    );
    assert_eq!(packed[1]["token_used"], json!(30), "{packed:?}");

    let odd = "odd\tname\nv2";
    let mut extra = record(
        90,
        &Usage {
            user_id: alice,
            username: "alice",
            model: odd,
            at: hour + 50,
            log_type: LOG_TYPE_CONSUME,
            quota: 7,
            use_time_ms: 100,
            ttft_ms: 0,
        },
    );
    extra.request_id = "req_dash_odd".into();
    let applied = plane
        .state
        .db
        .apply_relay_records(&[extra])
        .await
        .expect("settled");
    assert_eq!(applied, 1);
    let by_rows = bars(&root.get(&path).await);
    assert_eq!(by_rows.len(), 4, "{by_rows:?}");
    assert_eq!(by_rows[..2], packed[..2]);
    assert_eq!(by_rows[2]["model_name"], json!(odd));
    assert_eq!(
        (&by_rows[2]["created_at"], &by_rows[2]["quota"]),
        (&json!(hour), &json!(7))
    );
    assert_eq!(by_rows[3], packed[2]);
}

on_every_backend!(everyones_bars_whatever_the_model_names);
