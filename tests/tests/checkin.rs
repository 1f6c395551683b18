//! Daily check-in (new-api's `GET/POST /api/user/checkin`, seed 001's `/api/user/check-in`,
//! `/check-in/status` and `/check-in/records`): switched by options, a reward within the
//! configured range credited exactly once per calendar day of the configured time zone even
//! under 20 concurrent clicks, logged, and listed only to its own user.

use chrono::{TimeDelta, Utc};
use futures::future::join_all;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{ROOT_PASSWORD, console_with_role, database, root_console, set_option};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::AnyPool;

async fn int(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// Today in Asia/Shanghai (UTC+8 all year) and in UTC.
fn shanghai_today() -> String {
    (Utc::now() + TimeDelta::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

fn utc_today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

async fn enable(root: &Console, min: i64, max: i64) {
    set_option(root, "checkin_setting.enabled", "true").await;
    set_option(root, "checkin_setting.min_quota", &min.to_string()).await;
    set_option(root, "checkin_setting.max_quota", &max.to_string()).await;
}

async fn disabled_check_in_is_refused(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let id = alice.user_id.unwrap();
    let quota = int(&pool, "SELECT quota FROM users WHERE id = ?", id).await;

    for path in ["/api/user/checkin", "/api/user/check-in"] {
        let answer = alice.post(path, json!({})).await;
        assert!(!answer.success());
        assert!(answer.message().contains("not enabled"), "{answer:?}");
    }
    for path in ["/api/user/checkin", "/api/user/check-in/status"] {
        assert!(alice.get(path).await.message().contains("not enabled"));
    }
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        0
    );
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
        quota
    );

    // Switched on and off again.
    enable(&root, 10, 20).await;
    set_option(&root, "checkin_setting.enabled", "false").await;
    assert!(!alice.post("/api/user/checkin", json!({})).await.success());
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        0
    );
    // The history stays readable.
    let records = alice.get("/api/user/check-in/records").await;
    assert!(records.success(), "{records:?}");
    assert_eq!(records.data()["total"], 0);
}
on_every_backend!(disabled_check_in_is_refused);

async fn once_per_day_under_concurrency(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    enable(&root, 1_000, 5_000).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;
    let (id, bob_id) = (alice.user_id.unwrap(), bob.user_id.unwrap());
    let quota = int(&pool, "SELECT quota FROM users WHERE id = ?", id).await;

    // Without New-Api-User: refused, nothing recorded.
    let mut no_header = Console::new(&pylon.base_url);
    no_header.login("alice", ROOT_PASSWORD).await;
    no_header.user_id = None;
    let answer = no_header.post("/api/user/checkin", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        0
    );

    // Twenty concurrent clicks on both paths: one wins.
    let answers: Vec<Answer> = join_all((0..20).map(|i| {
        let path = if i % 2 == 0 {
            "/api/user/checkin"
        } else {
            "/api/user/check-in"
        };
        alice.post(path, json!({}))
    }))
    .await;
    let winners: Vec<&Answer> = answers.iter().filter(|a| a.success()).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for loser in answers.iter().filter(|a| !a.success()) {
        assert!(
            loser.message().contains("Already checked in today"),
            "{loser:?}"
        );
    }
    let won = winners[0].data();
    let reward = won["quota_awarded"].as_i64().expect("reward");
    assert!((1_000..=5_000).contains(&reward), "{reward}");
    assert_eq!(won["checkin_date"], json!(shanghai_today()));
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
        quota + reward
    );
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        1
    );
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4 AND quota > 0",
            id
        )
        .await,
        1
    );
    assert_eq!(
        alice.get("/api/user/self").await.data()["quota"],
        quota + reward
    );

    // Later the same day: still once.
    let again = alice.post("/api/user/check-in", json!({})).await;
    assert!(again.message().contains("Already checked in today"));
    assert_eq!(
        int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
        quota + reward
    );

    // Status, both paths.
    for path in ["/api/user/checkin", "/api/user/check-in/status"] {
        let status = alice.get(path).await;
        assert!(status.success(), "{status:?}");
        let data = status.data();
        assert_eq!(data["enabled"], true);
        assert_eq!(data["min_quota"], 1_000);
        assert_eq!(data["max_quota"], 5_000);
        assert_eq!(data["stats"]["checked_in_today"], true);
        assert_eq!(data["stats"]["total_checkins"], 1);
        assert_eq!(data["stats"]["total_quota"], reward);
        assert_eq!(data["stats"]["checkin_count"], 1);
        assert_eq!(
            data["stats"]["records"],
            json!([{"checkin_date": shanghai_today(), "quota_awarded": reward}])
        );
    }
    let other_month = alice.get("/api/user/checkin?month=2001-01").await;
    assert_eq!(other_month.data()["stats"]["records"], json!([]));
    assert_eq!(other_month.data()["stats"]["total_checkins"], 1);
    let bad_month = alice.get("/api/user/checkin?month=2001-13").await;
    assert!(!bad_month.success());
    assert!(bad_month.message().contains("month"));

    // Records, paged.
    let records = alice
        .get("/api/user/check-in/records?p=1&page_size=5")
        .await;
    assert!(records.success(), "{records:?}");
    assert_eq!(records.data()["total"], 1);
    assert_eq!(records.data()["page_size"], 5);
    assert_eq!(records.data()["items"][0]["quota_awarded"], reward);
    assert_eq!(
        records.data()["items"][0]["checkin_date"],
        json!(shanghai_today())
    );

    // Bob sees none of it, and has his own day (counted in UTC now).
    let bob_status = bob.get("/api/user/checkin").await;
    assert_eq!(bob_status.data()["stats"]["checked_in_today"], false);
    assert_eq!(bob_status.data()["stats"]["records"], json!([]));
    assert_eq!(
        bob.get("/api/user/check-in/records").await.data()["total"],
        0
    );
    set_option(&root, "checkin_setting.timezone", "UTC").await;
    let answer = bob.post("/api/user/check-in", json!({})).await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.data()["checkin_date"], json!(utc_today()));
    assert_eq!(
        int(
            &pool,
            "SELECT COUNT(*) FROM checkins WHERE user_id = ?",
            bob_id
        )
        .await,
        1
    );
    assert_eq!(
        int(&pool, "SELECT COUNT(*) FROM checkins WHERE user_id = ?", id).await,
        1
    );
}
on_every_backend!(once_per_day_under_concurrency);

async fn reward_follows_the_range(backend: Backend) {
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;
    let pool = database(&pylon).await;

    // A fixed reward.
    enable(&root, 777, 777).await;
    let carol = console_with_role(&pylon, &pool, "carol", 1).await;
    let answer = carol.post("/api/user/checkin", json!({})).await;
    assert_eq!(answer.data()["quota_awarded"], 777, "{answer:?}");

    // An inverted range is read the right way round, as new-api does.
    enable(&root, 300, 100).await;
    let status = carol.get("/api/user/checkin").await;
    assert_eq!(status.data()["min_quota"], 100);
    assert_eq!(status.data()["max_quota"], 300);
    for i in 0..6 {
        let user = console_with_role(&pylon, &pool, &format!("user{i}"), 1).await;
        let id = user.user_id.unwrap();
        let before = int(&pool, "SELECT quota FROM users WHERE id = ?", id).await;
        let answer = user.post("/api/user/check-in", json!({})).await;
        let reward = answer.data()["quota_awarded"].as_i64().expect("reward");
        assert!((100..=300).contains(&reward), "{reward}");
        assert_eq!(
            int(&pool, "SELECT quota FROM users WHERE id = ?", id).await,
            before + reward
        );
    }

    // Malformed settings fall back to safe values instead of failing.
    set_option(&root, "checkin_setting.min_quota", "-50").await;
    set_option(&root, "checkin_setting.max_quota", "0").await;
    set_option(&root, "checkin_setting.timezone", "Not/AZone").await;
    let dave = console_with_role(&pylon, &pool, "dave", 1).await;
    let answer = dave.post("/api/user/checkin", json!({})).await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.data()["quota_awarded"], 0);
    assert_eq!(answer.data()["checkin_date"], json!(shanghai_today()));
}
on_every_backend!(reward_follows_the_range);
