//! Sets a fresh node up through its public API: root account and login, the load's model
//! priced per token, the case's channels, and the load's keys (each with a finite balance, so
//! that every charge shows in it).

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The model every load request asks for.
pub const MODEL: &str = "fault-model";
/// Each key's balance at the start: far beyond what a run spends.
pub const KEY_QUOTA: i64 = 50_000_000_000;
const ROOT_PASSWORD: &str = "faults-root-password";
/// Root's own balance (the keys draw on it).
const ROOT_QUOTA: i64 = 100_000_000_000_000;

/// A channel of the case's model.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub base_url: String,
    /// Relative share of first attempts (new-api adds 10 to every weight).
    pub weight: i64,
    /// Headers sent upstream with every request (the mock's `x-mock-*` knobs).
    pub headers: Value,
}

impl Channel {
    /// A healthy channel at `base_url`.
    pub fn healthy(base_url: &str, weight: i64) -> Self {
        Self {
            name: "healthy".into(),
            base_url: base_url.into(),
            weight,
            headers: Value::Null,
        }
    }
}

/// A key of the load.
#[derive(Debug, Clone)]
pub struct Key {
    pub id: i64,
    pub key: String,
    /// Its balance when the load began.
    pub start: i64,
}

/// A console session: cookie jar plus `New-Api-User`.
struct Console {
    base: String,
    client: reqwest::Client,
    user_id: Option<i64>,
}

impl Console {
    /// Sends a JSON request and returns the envelope's `data`, failing unless `success`.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if let Some(id) = self.user_id {
            request = request.header("New-Api-User", id.to_string());
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().await?.json().await?;
        if answer["success"].as_bool() != Some(true) {
            bail!("{path} failed: {answer}");
        }
        Ok(answer["data"].clone())
    }
}

/// Sets the node at `base` up with `channels` and `keys` keys, and waits until the proxy
/// routes the model for every key.
pub async fn set_up(base: &str, channels: &[Channel], keys: usize) -> anyhow::Result<Vec<Key>> {
    use reqwest::Method;
    let mut console = Console {
        base: base.into(),
        client: reqwest::Client::builder().cookie_store(true).build()?,
        user_id: None,
    };
    console
        .call(
            Method::POST,
            "/api/setup",
            json!({"username": "root", "password": ROOT_PASSWORD,
                   "confirmPassword": ROOT_PASSWORD}),
        )
        .await?;
    let user = console
        .call(
            Method::POST,
            "/api/user/login",
            json!({"username": "root", "password": ROOT_PASSWORD}),
        )
        .await?;
    let user_id = user["id"].as_i64().context("login answered no user id")?;
    console.user_id = Some(user_id);
    console
        .call(
            Method::PUT,
            "/api/option/",
            json!({"key": "ModelRatio", "value": json!({ MODEL: 1 }).to_string()}),
        )
        .await?;
    console
        .call(
            Method::PUT,
            "/api/user/",
            json!({"id": user_id, "quota": ROOT_QUOTA}),
        )
        .await?;
    for channel in channels {
        let headers = if channel.headers.is_null() {
            String::new()
        } else {
            channel.headers.to_string()
        };
        let body = json!({
            "type": 1, "name": channel.name, "key": "upstream-key",
            "base_url": channel.base_url, "models": MODEL, "group": "default",
            "priority": 0, "weight": channel.weight, "header_override": headers,
        });
        console
            .call(
                Method::POST,
                "/api/channel/",
                json!({"mode": "single", "channel": body}),
            )
            .await?;
    }
    let mut out = Vec::with_capacity(keys);
    for n in 0..keys {
        let name = format!("fault-{n}");
        console
            .call(
                Method::POST,
                "/api/token/",
                json!({"name": name, "expired_time": -1, "remain_quota": KEY_QUOTA,
                       "unlimited_quota": false, "model_limits_enabled": false,
                       "model_limits": "", "allow_ips": "", "group": ""}),
            )
            .await?;
        let list = console
            .call(Method::GET, "/api/token/?p=1&page_size=100", Value::Null)
            .await?;
        let id = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
            .and_then(|t| t["id"].as_i64())
            .with_context(|| format!("key {name} is not listed"))?;
        let revealed = console
            .call(Method::POST, &format!("/api/token/{id}/key"), json!({}))
            .await?;
        let key = revealed["key"].as_str().context("no key revealed")?;
        let key = if key.starts_with("sk-") {
            key.to_string()
        } else {
            format!("sk-{key}")
        };
        out.push(Key {
            id,
            key,
            start: KEY_QUOTA,
        });
    }
    for key in &out {
        wait_routable(base, &key.key).await?;
    }
    Ok(out)
}

/// Waits until the proxy's snapshot has the key and the model.
async fn wait_routable(base: &str, key: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .get(format!("{base}/v1/models/{MODEL}"))
            .bearer_auth(key)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .status();
        if status.is_success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the proxy never routed {MODEL} for a key ({status})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
