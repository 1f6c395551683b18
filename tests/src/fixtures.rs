//! Building the scene of a test through the public APIs: a root console, other users, options,
//! channels pointing at mock upstreams, `sk-` keys, and direct reads of the database.

use crate::client::Console;
use crate::process::Pylon;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Root's password in relay tests.
pub const ROOT_PASSWORD: &str = "relay-root-password";

/// A logged-in root console on `pylon`, after setup.
pub async fn root_console(pylon: &Pylon) -> Console {
    let mut console = Console::new(&pylon.base_url);
    console.setup_root("root", ROOT_PASSWORD).await;
    console.login("root", ROOT_PASSWORD).await;
    console
}

/// A user of `role` inserted directly (registration and user management come with the
/// accounts API), then logged in with [`ROOT_PASSWORD`].
pub async fn console_with_role(
    pylon: &Pylon,
    pool: &sqlx::AnyPool,
    username: &str,
    role: i64,
) -> Console {
    let hash = pylon_shared::crypto::hash_password(ROOT_PASSWORD).expect("hash");
    sqlx::query(
        "INSERT INTO users (username, password, display_name, role, status, `group`, created_at) \
         VALUES (?, ?, ?, ?, 1, 'default', 0)",
    )
    .bind(username)
    .bind(hash)
    .bind(username)
    .bind(role)
    .execute(pool)
    .await
    .expect("insert user");
    let mut console = Console::new(&pylon.base_url);
    console.login(username, ROOT_PASSWORD).await;
    console
}

/// Sets an option through the admin API.
pub async fn set_option(console: &Console, key: &str, value: &str) {
    let answer = console
        .send(
            reqwest::Method::PUT,
            "/api/option/",
            Some(json!({ "key": key, "value": value }).to_string()),
        )
        .await;
    assert!(answer.success(), "setting {key} failed: {answer:?}");
}

/// Creates a channel through the admin API and returns its id.
pub async fn create_channel(console: &Console, channel: Value) -> i64 {
    let name = channel["name"].as_str().unwrap_or_default().to_string();
    let answer = console
        .post(
            "/api/channel/",
            json!({ "mode": "single", "channel": channel }),
        )
        .await;
    assert!(answer.success(), "creating channel failed: {answer:?}");
    let list = console.get("/api/channel/?p=1&page_size=100").await;
    list.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|c| c["name"] == json!(name)))
        .and_then(|c| c["id"].as_i64())
        .unwrap_or_else(|| panic!("channel {name} not listed: {list:?}"))
}

/// An OpenAI-compatible channel (type 1) named `name` at `base_url` serving `models` to the
/// default group.
pub fn openai_channel(name: &str, base_url: &str, models: &str) -> Value {
    json!({"type": 1, "name": name, "key": "upstream-key", "base_url": base_url,
        "models": models, "group": "default", "priority": 0, "weight": 0})
}

/// Creates a key through the user API and returns (id, full key).
pub async fn create_key(
    console: &Console,
    name: &str,
    remain_quota: i64,
    unlimited: bool,
) -> (i64, String) {
    let answer = console
        .post(
            "/api/token/",
            json!({
                "name": name, "expired_time": -1, "remain_quota": remain_quota,
                "unlimited_quota": unlimited, "model_limits_enabled": false, "model_limits": "",
                "allow_ips": "", "group": ""
            }),
        )
        .await;
    assert!(answer.success(), "creating key failed: {answer:?}");
    let list = console.get("/api/token/?p=1&page_size=100").await;
    let id = list.data()["items"]
        .as_array()
        .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
        .and_then(|t| t["id"].as_i64())
        .unwrap_or_else(|| panic!("key {name} not listed: {list:?}"));
    let revealed = console
        .post(&format!("/api/token/{id}/key"), json!({}))
        .await;
    let key = revealed.data()["key"]
        .as_str()
        .unwrap_or_else(|| panic!("key not revealed: {revealed:?}"))
        .to_string();
    (id, key)
}

/// Waits until the proxy accepts `key` (the snapshot picked it up) and knows `model`.
pub async fn wait_until_routable(pylon: &Pylon, key: &str, model: &str) {
    wait_until_routable_at(&pylon.base_url, key, model).await;
}

/// [`wait_until_routable`] on the proxy node at `base_url`.
pub async fn wait_until_routable_at(base_url: &str, key: &str, model: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = client
            .get(format!("{base_url}/v1/models/{model}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("proxy reachable");
        if answer.status() == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "proxy never routed {model} for the key: {}",
            answer.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens the test's database.
pub async fn database(pylon: &Pylon) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&pylon.database_url())
        .await
        .expect("database")
}

/// One integer from a query.
pub async fn scalar(pool: &sqlx::AnyPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// One integer from `sql` with its one parameter `id`.
pub async fn scalar_of(pool: &sqlx::AnyPool, sql: &str, id: i64) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// Waits until `sql` with `id` returns `expected`, up to 10 s (the settlement writer flushes
/// every second).
pub async fn eventually_of(pool: &sqlx::AnyPool, sql: &str, id: i64, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = scalar_of(pool, sql, id).await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql} [{id}] = {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `sql` (an integer query) returns `expected`, up to 5 s (the settlement writer
/// flushes every second).
pub async fn eventually_equals(pool: &sqlx::AnyPool, sql: &'static str, expected: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let value = scalar(pool, sql).await;
        if value == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sql} = {value}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of the proxy's metric line starting with `line_start` (name and labels), 0 when
/// it is not exported yet.
pub async fn metric(pylon: &crate::Pylon, line_start: &str) -> i64 {
    metric_at(&pylon.metrics_url, line_start).await
}

/// The value of the metric line starting with `line_start` at `url` (any process's
/// `/metrics`), 0 when it is not exported yet.
pub async fn metric_at(url: &str, line_start: &str) -> i64 {
    let text = reqwest::get(url)
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// One Redis value of `pylon`'s deployment (its key prefix applied).
pub async fn redis_value(pylon: &Pylon, key: &str) -> Option<i64> {
    use fred::prelude::*;
    let (client, prefix) = redis_client(pylon).await;
    let value: Option<i64> = client.get(format!("{prefix}{key}")).await.expect("GET");
    let _ = client.quit().await;
    value
}

/// One Redis hash of `pylon`'s deployment (its key prefix applied), with integer values.
pub async fn redis_hash(pylon: &Pylon, key: &str) -> std::collections::HashMap<String, i64> {
    use fred::prelude::*;
    let (client, prefix) = redis_client(pylon).await;
    let hash = client
        .hgetall(format!("{prefix}{key}"))
        .await
        .expect("HGETALL");
    let _ = client.quit().await;
    hash
}

/// A connected client on the test Redis, and `pylon`'s key prefix.
async fn redis_client(pylon: &Pylon) -> (fred::clients::Client, String) {
    use fred::prelude::*;
    let prefix = pylon
        .env()
        .iter()
        .find(|(k, _)| k == "PYLON__CACHE__KEY_PREFIX")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let config =
        fred::types::config::Config::from_url(&crate::backend::redis_url()).expect("Redis URL");
    let client = Builder::from_config(config).build().expect("client");
    client.init().await.expect("Redis");
    (client, prefix)
}
