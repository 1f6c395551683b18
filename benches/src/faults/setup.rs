//! Sets a fresh node up through its public API: root account and login, the load's model
//! priced per token, the case's channels, and the load's keys (each with a finite balance, so
//! that every charge shows in it).

use crate::console::{Console, wait_routable};
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

/// Sets the node at `base` up: root, then [`provision`].
pub async fn set_up(base: &str, channels: &[Channel], keys: usize) -> anyhow::Result<Vec<Key>> {
    let console = Console::set_up_root(base, ROOT_PASSWORD).await?;
    provision(&console, base, channels, keys).await
}

/// Prices the load's model, funds root and adds `channels` and `keys` keys through root's
/// `console` on the node at `base`, and waits until the proxy routes the model for every key.
pub async fn provision(
    console: &Console,
    base: &str,
    channels: &[Channel],
    keys: usize,
) -> anyhow::Result<Vec<Key>> {
    use reqwest::Method;
    let user_id = console.user_id();
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
        let (id, key) = console
            .create_key(&format!("fault-{n}"), Some(KEY_QUOTA))
            .await?;
        out.push(Key {
            id,
            key,
            start: KEY_QUOTA,
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for key in &out {
        wait_routable(base, &key.key, MODEL, deadline).await?;
    }
    Ok(out)
}
