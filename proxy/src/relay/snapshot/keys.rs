//! API keys as the relay checks them.

use pylon_shared::db::TokenRow;
use pylon_shared::net::IpNet;
use std::collections::{HashMap, HashSet};

/// Token status: usable.
pub const TOKEN_ENABLED: i64 = 1;

/// One key, parsed for fast checks. Its balance lives in [`crate::relay::billing::Balances`].
#[derive(Debug)]
pub struct TokenEntry {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub status: i64,
    /// Unix seconds; -1 never.
    pub expired_time: i64,
    pub unlimited: bool,
    /// Allowed models, when limits are on.
    pub model_limits: Option<HashSet<String>>,
    /// Allowed client networks; empty allows all.
    pub allow_ips: Vec<IpNet>,
    /// Group override; empty uses the owner's.
    pub group: String,
    /// Requests per minute the key may make (0: no limit of its own).
    pub rpm_limit: u64,
    /// Tokens per minute the key may use (0: no limit of its own).
    pub tpm_limit: u64,
    /// Requests per minute, per requested model.
    pub model_rpm_limit: HashMap<String, u64>,
    /// Tokens per minute, per requested model.
    pub model_tpm_limit: HashMap<String, u64>,
    /// Seed 001: the user channels the key is limited to, in the order they are tried; empty:
    /// the key routes as any key of its group.
    pub user_channels: Vec<i64>,
}

impl TokenEntry {
    /// Parses a stored row. Unparsable allow-list entries are dropped (the API refuses them).
    pub fn from_row(row: &TokenRow) -> Self {
        let model_limits = (row.model_limits_enabled != 0).then(|| {
            row.model_limits
                .split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect()
        });
        let allow_ips = row
            .allow_ips
            .split(['\n', ',', ' '])
            .filter(|s| !s.trim().is_empty())
            .filter_map(IpNet::parse)
            .collect();
        Self {
            id: row.id,
            user_id: row.user_id,
            name: row.name.clone(),
            status: row.status,
            expired_time: row.expired_time,
            unlimited: row.unlimited_quota != 0,
            model_limits,
            allow_ips,
            group: row.group.clone(),
            rpm_limit: u64::try_from(row.rpm_limit).unwrap_or(0),
            tpm_limit: u64::try_from(row.tpm_limit).unwrap_or(0),
            model_rpm_limit: per_model_limits(&row.model_rpm_limit),
            model_tpm_limit: per_model_limits(&row.model_tpm_limit),
            // An id that does not parse stays in the list as 0, which names no user channel:
            // the key stays limited rather than routing anywhere.
            user_channels: row
                .user_channel_ids
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| id.parse().unwrap_or(0))
                .collect(),
        }
    }

    /// Whether the key has any rate limit of its own.
    pub fn has_rate_limits(&self) -> bool {
        self.rpm_limit > 0
            || self.tpm_limit > 0
            || !self.model_rpm_limit.is_empty()
            || !self.model_tpm_limit.is_empty()
    }

    /// True when the key may be used for `model`.
    pub fn allows_model(&self, model: &str) -> bool {
        self.model_limits
            .as_ref()
            .is_none_or(|allowed| allowed.contains(model))
    }

    /// True when a client at `ip` may use the key.
    pub fn allows_ip(&self, ip: Option<std::net::IpAddr>) -> bool {
        if self.allow_ips.is_empty() {
            return true;
        }
        ip.is_some_and(|ip| self.allow_ips.iter().any(|net| net.contains(ip)))
    }
}

/// A stored `{"model": n}` limit map; entries that are not positive integers are dropped (the
/// API refuses them), as is the whole map when it is not an object.
fn per_model_limits(stored: &str) -> HashMap<String, u64> {
    serde_json::from_str::<HashMap<String, serde_json::Value>>(stored)
        .map(|map| {
            map.into_iter()
                .filter_map(|(model, limit)| Some((model, limit.as_u64().filter(|n| *n > 0)?)))
                .collect()
        })
        .unwrap_or_default()
}
