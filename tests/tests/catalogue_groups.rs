//! Seed 001's groups (`/api/groups`) on SQLite and on MySQL + Redis: a group made through the
//! routes is the same group new-api's options show (`GroupRatio`, `UserUsableGroups`), and an
//! option written by new-api's console shows in the routes; bad input is refused and changes
//! nothing; and a user in the group is charged with its ratio by the relay, which follows a
//! changed ratio.

use pylon_tests::canned_upstream::{Canned, CannedUpstream};
use pylon_tests::catalogue_fixtures::{ok, option};
use pylon_tests::client::Answer;
use pylon_tests::fixtures::*;
use pylon_tests::user_admin_fixtures::{PASSWORD, delete, put, put_raw, refused};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MODEL: &str = "gpt-grouped";
/// The upstream reports 100 prompt and 20 completion tokens: 120 quota at ratio 1.
const BASE_QUOTA: f64 = 120.0;

/// The group called `name` of `GET /api/groups`.
async fn group(root: &Console, name: &str) -> Option<Value> {
    let all = root.get("/api/groups").await;
    assert!(all.success(), "{all:?}");
    all.data()
        .as_array()
        .expect("a list")
        .iter()
        .find(|g| g["name"] == json!(name))
        .cloned()
}

/// A chat completion answered with fixed usage.
fn completion() -> Canned {
    Canned::json(
        &json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": MODEL, "choices": [{"index": 0, "message": {"role": "assistant",
        "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}),
    )
}

/// How many requests of `user` were logged.
async fn logged(pool: &sqlx::AnyPool, user: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM logs WHERE type = 2 AND user_id = ?")
        .bind(user)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Relays one request with `key` and answers the quota its log row charged.
async fn charged(pylon: &Pylon, pool: &sqlx::AnyPool, key: &str, user: i64) -> i64 {
    let before = logged(pool, user).await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", pylon.base_url))
        .bearer_auth(key)
        .json(&json!({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("relay reachable");
    assert_eq!(
        answer.status(),
        200,
        "{}",
        answer.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while logged(pool, user).await == before {
        assert!(Instant::now() < deadline, "the request was never logged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sqlx::query_scalar(
        "SELECT quota FROM logs WHERE type = 2 AND user_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(user)
    .fetch_one(pool)
    .await
    .expect("quota")
}

/// Relays until a request is charged `expected` (the proxy applies a changed option within a
/// second or two), failing after 5 s.
async fn eventually_charged(
    pylon: &Pylon,
    pool: &sqlx::AnyPool,
    key: &str,
    user: i64,
    expected: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let quota = charged(pylon, pool, key, user).await;
        if quota == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "charged {quota}, expected {expected}"
        );
    }
}

async fn groups_are_the_group_options(backend: Backend) {
    let upstream = CannedUpstream::start(|_, _| completion()).await;
    let pylon = Pylon::start(backend).await;
    let root = root_console(&pylon).await;

    // A fresh install: only `default`, selectable as new-api's default UserUsableGroups says.
    let fresh = ok(root.get("/api/groups").await);
    assert_eq!(
        fresh,
        json!([{"id": "default", "name": "default", "description": "默认分组", "ratio": 1,
            "user_selectable": true}])
    );

    // Created through the routes: the options hold it.
    let vip = ok(root
        .post(
            "/api/groups",
            json!({"name": "vip", "description": "VIP customers", "ratio": 2.5,
                "user_selectable": true}),
        )
        .await);
    assert_eq!(
        vip,
        json!({"id": "vip", "name": "vip", "description": "VIP customers", "ratio": 2.5,
            "user_selectable": true})
    );
    let ratios = option(&root, "GroupRatio").await;
    assert_eq!(ratios["vip"], json!(2.5));
    let usable = option(&root, "UserUsableGroups").await;
    assert_eq!(usable["vip"], json!("VIP customers"));
    assert_eq!(
        usable["default"],
        json!("默认分组"),
        "the defaults are kept"
    );
    let hidden = ok(root
        .post("/api/groups", json!({"name": "internal", "ratio": 0}))
        .await);
    assert_eq!(hidden["user_selectable"], json!(false));
    assert_eq!(
        ok(root.get("/api/group/").await),
        json!(["default", "internal", "vip"])
    );

    // Written by new-api's console through the options: the routes show it.
    set_option(
        &root,
        "GroupRatio",
        r#"{"default": 1, "vip": 3, "internal": 0}"#,
    )
    .await;
    assert_eq!(group(&root, "vip").await.expect("vip")["ratio"], json!(3));
    set_option(&root, "UserUsableGroups", r#"{"default": "Everyone"}"#).await;
    let vip = group(&root, "vip").await.expect("vip");
    assert_eq!(vip["user_selectable"], json!(false));
    assert_eq!(vip["description"], json!(""));

    // Changed through the routes: only the fields given change.
    let vip = ok(put(
        &root,
        "/api/groups/vip",
        json!({"user_selectable": true, "description": "VIP again"}),
    )
    .await);
    assert_eq!(vip["ratio"], json!(3));
    assert_eq!(vip["description"], json!("VIP again"));
    let usable = option(&root, "UserUsableGroups").await;
    assert_eq!(usable, json!({"default": "Everyone", "vip": "VIP again"}));

    // Concurrent writers never overwrite each other's groups.
    let created = futures::future::join_all((1..=6).map(|i| {
        let root = &root;
        async move {
            root.post(
                "/api/groups",
                json!({"name": format!("team{i}"), "ratio": i}),
            )
            .await
        }
    }))
    .await;
    assert!(created.iter().all(Answer::success), "{created:?}");
    let ratios = option(&root, "GroupRatio").await;
    for i in 1..=6 {
        assert_eq!(ratios[format!("team{i}")], json!(i), "{ratios}");
        assert!(
            delete(&root, &format!("/api/groups/team{i}"))
                .await
                .success()
        );
    }

    // Bad input is refused and changes nothing.
    let before = (
        option(&root, "GroupRatio").await,
        option(&root, "UserUsableGroups").await,
    );
    for (answer, expected) in [
        (
            root.post("/api/groups", json!({"name": ""})).await,
            "must not be empty",
        ),
        (
            root.post("/api/groups", json!({"name": " vip"})).await,
            "must not be empty",
        ),
        (
            root.post("/api/groups", json!({"name": "a,b"})).await,
            "comma",
        ),
        (
            root.post("/api/groups", json!({"name": "auto"})).await,
            "AutoGroups",
        ),
        (
            root.post("/api/groups", json!({"name": "x".repeat(65)}))
                .await,
            "too long",
        ),
        (
            root.post("/api/groups", json!({"name": "vip"})).await,
            "already exists",
        ),
        (
            root.post("/api/groups", json!({"name": "neg", "ratio": -1}))
                .await,
            "non-negative",
        ),
        (
            root.post("/api/groups", json!({"name": "str", "ratio": "2"}))
                .await,
            "Invalid parameters",
        ),
        (
            root.post("/api/groups", json!({"name": "d", "description": "x"}))
                .await,
            "user_selectable",
        ),
        (
            root.post("/api/groups", json!({"name": "u", "color": "red"}))
                .await,
            "Invalid parameters",
        ),
        (
            root.post_raw("/api/groups", r#"{"name": "#).await,
            "Invalid parameters",
        ),
        (
            put(&root, "/api/groups/vip", json!({"name": "gold"})).await,
            "cannot be renamed",
        ),
        (
            put(&root, "/api/groups/gold", json!({"ratio": 1})).await,
            "Group not found",
        ),
        (
            put_raw(&root, "/api/groups/vip", r#"{"ratio": true}"#).await,
            "Invalid parameters",
        ),
        (
            delete(&root, "/api/groups/default").await,
            "cannot be deleted",
        ),
        (delete(&root, "/api/groups/gold").await, "Group not found"),
    ] {
        refused(&answer, expected);
    }
    assert_eq!(
        (
            option(&root, "GroupRatio").await,
            option(&root, "UserUsableGroups").await
        ),
        before
    );

    // A user in the group is charged with its ratio, and with a changed one.
    set_option(&root, "ModelRatio", &json!({MODEL: 1}).to_string()).await;
    set_option(&root, "CompletionRatio", &json!({MODEL: 1}).to_string()).await;
    create_channel(
        &root,
        json!({"type": 1, "name": "grouped", "key": "k", "base_url": upstream.base_url,
            "models": MODEL, "group": "default,vip", "priority": 0, "weight": 0}),
    )
    .await;
    let buyer = ok(root
        .post(
            "/api/user/",
            json!({"username": "buyer", "password": PASSWORD, "role": 1, "group": "vip"}),
        )
        .await)["id"]
        .as_i64()
        .expect("id");
    assert!(
        put(
            &root,
            "/api/user/",
            json!({"id": buyer, "quota": 10_000_000})
        )
        .await
        .success()
    );
    let mut console = Console::new(&pylon.base_url);
    console.login("buyer", PASSWORD).await;
    let (_, key) = create_key(&console, "buyer-key", 0, true).await;
    wait_until_routable(&pylon, &key, MODEL).await;
    let pool = database(&pylon).await;
    eventually_charged(&pylon, &pool, &key, buyer, (BASE_QUOTA * 3.0) as i64).await;
    assert!(
        put(&root, "/api/groups/vip", json!({"ratio": 0.5}))
            .await
            .success()
    );
    eventually_charged(&pylon, &pool, &key, buyer, (BASE_QUOTA * 0.5) as i64).await;

    // A group with members or keys is not deleted; an empty one is, from both options.
    refused(&delete(&root, "/api/groups/vip").await, "move them");
    ok(root
        .post(
            "/api/groups",
            json!({"name": "keyed", "user_selectable": true}),
        )
        .await);
    let keyed = root
        .post(
            "/api/token/",
            json!({"name": "keyed-key", "expired_time": -1, "remain_quota": 0,
                "unlimited_quota": true, "group": "keyed"}),
        )
        .await;
    assert!(keyed.success(), "{keyed:?}");
    refused(
        &delete(&root, "/api/groups/keyed").await,
        "keys use group keyed",
    );
    assert!(group(&root, "keyed").await.is_some());
    assert!(delete(&root, "/api/groups/internal").await.success());
    assert!(group(&root, "internal").await.is_none());
    assert!(option(&root, "GroupRatio").await.get("internal").is_none());
}

on_every_backend!(groups_are_the_group_options);
