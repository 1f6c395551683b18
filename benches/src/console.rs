//! A console session on a Pylon under measurement, through its public API only: first-run
//! setup of the root account and its login (cookie jar plus `New-Api-User`), JSON calls that
//! fail unless the envelope says `success`, and keys created and revealed. Shared by
//! `pylon-compare` and `pylon-faults`.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A logged-in console session.
pub struct Console {
    base: String,
    client: reqwest::Client,
    user_id: i64,
}

impl Console {
    /// Sets up a fresh Pylon at `base` (`http://HOST:PORT`) with root's `password`, and logs in.
    pub async fn set_up_root(base: &str, password: &str) -> anyhow::Result<Self> {
        let anonymous = Self::anonymous(base)?;
        anonymous
            .call(
                Method::POST,
                "/api/setup",
                json!({"username": "root", "password": password, "confirmPassword": password}),
            )
            .await?;
        anonymous.log_in("root", password).await
    }

    /// Logs in as `username` at an already set-up Pylon at `base`.
    pub async fn log_in_at(base: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        Self::anonymous(base)?.log_in(username, password).await
    }

    fn anonymous(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base: base.to_string(),
            client: reqwest::Client::builder().cookie_store(true).build()?,
            user_id: 0,
        })
    }

    async fn log_in(mut self, username: &str, password: &str) -> anyhow::Result<Self> {
        let user = self
            .call(
                Method::POST,
                "/api/user/login",
                json!({"username": username, "password": password}),
            )
            .await?;
        self.user_id = user["id"].as_i64().context("login answered no user id")?;
        Ok(self)
    }

    /// Root's user id.
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// Sends a JSON request (none when `body` is null) and returns the envelope's `data`,
    /// failing unless `success`.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if self.user_id != 0 {
            request = request.header("New-Api-User", self.user_id.to_string());
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

    /// Creates a key named `name` with the balance `quota` (`None`: unlimited) and returns its
    /// id and its secret (`sk-...`).
    pub async fn create_key(
        &self,
        name: &str,
        quota: Option<i64>,
    ) -> anyhow::Result<(i64, String)> {
        self.call(
            Method::POST,
            "/api/token/",
            json!({"name": name, "expired_time": -1, "remain_quota": quota.unwrap_or(0),
                   "unlimited_quota": quota.is_none(), "model_limits_enabled": false,
                   "model_limits": "", "allow_ips": "", "group": ""}),
        )
        .await?;
        let list = self
            .call(Method::GET, "/api/token/?p=1&page_size=100", Value::Null)
            .await?;
        let id = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|t| t["name"] == json!(name)))
            .and_then(|t| t["id"].as_i64())
            .with_context(|| format!("the new key {name} is not listed"))?;
        let revealed = self
            .call(Method::POST, &format!("/api/token/{id}/key"), json!({}))
            .await?;
        let key = revealed["key"]
            .as_str()
            .context("POST /api/token/{id}/key answered no key")?;
        let key = if key.starts_with("sk-") {
            key.to_string()
        } else {
            format!("sk-{key}")
        };
        Ok((id, key))
    }
}

/// Waits until the proxy at `base` routes `model` for `key` (its snapshot has both), failing
/// after `deadline`.
pub async fn wait_routable(
    base: &str,
    key: &str,
    model: &str,
    deadline: Instant,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    loop {
        let status = client
            .get(format!("{base}/v1/models/{model}"))
            .bearer_auth(key)
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .status();
        if status.is_success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the proxy never routed {model} for the key ({status})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
