//! Fixtures of the user-management tests (`tests/tests/user_admin.rs`): the admin routes as
//! new-api's console calls them, users created through the API, direct reads of the users and
//! audit rows, and a relay probe that measures how fast a change reaches the proxy.

use crate::client::Answer;
use crate::{Backend, Console, Pylon};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::AnyPool;
use std::time::{Duration, Instant};

/// The password of every user these fixtures create.
pub const PASSWORD: &str = "user-admin-pass-1";
/// The answer of an admin route to a common user.
pub const INSUFFICIENT: &str = "Unauthorized, insufficient privileges";
/// The answer for an id that names no live user.
pub const NOT_FOUND: &str = "User does not exist";
/// The answer when an administrator reads a peer or superior.
pub const NO_VIEW: &str = "No permission to access users of same or higher level";
/// The answer when an administrator changes a peer or superior.
pub const NO_EDIT: &str = "No permission to update users of same or higher permission level";

/// PUT `path` with a JSON body.
pub async fn put(console: &Console, path: &str, body: Value) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

/// PUT `path` with a raw (possibly malformed) body.
pub async fn put_raw(console: &Console, path: &str, body: &str) -> Answer {
    console
        .send(Method::PUT, path, Some(body.to_string()))
        .await
}

/// DELETE `path`.
pub async fn delete(console: &Console, path: &str) -> Answer {
    console.send(Method::DELETE, path, None).await
}

/// `POST /api/user/manage` with `{id, action}`.
pub async fn manage(console: &Console, id: i64, action: &str) -> Answer {
    console
        .post("/api/user/manage", json!({ "id": id, "action": action }))
        .await
}

/// Asserts that `answer` is new-api's refusal (HTTP 200, `success: false`) saying `expected`.
pub fn refused(answer: &Answer, expected: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(!answer.success(), "should be refused: {answer:?}");
    assert!(
        answer.message().contains(expected),
        "{answer:?} should say {expected:?}"
    );
}

/// Creates a user through `POST /api/user/` and returns its id.
pub async fn create_user(console: &Console, username: &str, role: i64) -> i64 {
    let answer = console
        .post(
            "/api/user/",
            json!({ "username": username, "password": PASSWORD, "role": role }),
        )
        .await;
    assert!(answer.success(), "creating {username} failed: {answer:?}");
    answer.data()["id"].as_i64().expect("id of the new user")
}

/// A common user created through the API, credited `quota` by the administrator (`add_quota`,
/// when positive) and logged in; answers the console and the id.
pub async fn funded_user(
    pylon: &Pylon,
    admin: &Console,
    username: &str,
    quota: i64,
) -> (Console, i64) {
    let id = create_user(admin, username, 1).await;
    if quota > 0 {
        let added = admin
            .post(
                "/api/user/manage",
                json!({"id": id, "action": "add_quota", "mode": "add", "value": quota}),
            )
            .await;
        assert!(added.success(), "crediting {username} failed: {added:?}");
    }
    (logged_in(pylon, username).await, id)
}

/// A console logged in as `username` with [`PASSWORD`].
pub async fn logged_in(pylon: &Pylon, username: &str) -> Console {
    let mut console = Console::new(&pylon.base_url);
    console.login(username, PASSWORD).await;
    console
}

/// Every user row's managed columns, to check that a refused request changed nothing.
pub async fn users_snapshot(pool: &AnyPool) -> Vec<String> {
    type Row = (i64, String, String, i64, i64, String, i64, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, username, display_name, role, status, email, quota, `group`, remark \
         FROM users ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let deleted: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE deleted_at IS NOT NULL")
        .fetch_all(pool)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| format!("{r:?}"))
        .chain(deleted.iter().map(|id| format!("deleted {id}")))
        .collect()
}

/// The contents of the audit rows (`type = 3`) on `user_id`'s log, oldest first.
pub async fn manage_logs(pool: &AnyPool, user_id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT content FROM logs WHERE type = 3 AND user_id = ? ORDER BY id")
        .bind(user_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// One integer of user `id`, from `sql` with one `?` for the id.
pub async fn column(pool: &AnyPool, sql: &'static str, id: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Creates a key as `console`'s user and returns it in full (`sk-...`).
pub async fn sk_key(console: &Console, name: &str) -> String {
    let answer = console
        .post(
            "/api/token/",
            json!({ "name": name, "expired_time": -1, "remain_quota": 0, "unlimited_quota": true }),
        )
        .await;
    assert!(answer.success(), "creating a key failed: {answer:?}");
    let list = console.get("/api/token/?p=1&page_size=100").await;
    let id = list.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
        .and_then(|t| t["id"].as_i64())
        .expect("key listed");
    let revealed = console
        .post(&format!("/api/token/{id}/key"), json!({}))
        .await;
    format!("sk-{}", revealed.data()["key"].as_str().expect("key"))
}

/// Polls `GET /v1/models` with `key` until it answers `status`; returns how long it took.
pub async fn relay_answers(pylon: &Pylon, key: &str, status: u16, within: Duration) -> Duration {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let answer = client
            .get(format!("{}/v1/models", pylon.base_url))
            .bearer_auth(key)
            .send()
            .await
            .expect("proxy reachable");
        if answer.status().as_u16() == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "the relay still answers {} instead of {status} after {within:?}",
            answer.status()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How fast a change must reach the relay (README: < 1 s with Redis, < 2 s embedded).
pub fn propagation_bound(backend: Backend) -> Duration {
    match backend {
        Backend::Sqlite => Duration::from_secs(2),
        Backend::MySqlRedis => Duration::from_secs(1),
    }
}
