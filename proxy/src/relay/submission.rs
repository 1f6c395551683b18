//! The log row of an asynchronous task's submission (video, Suno and Midjourney tasks): who
//! asked for which model in which group, the channels tried, and how it ended.

use super::auth::Caller;
use super::{millis, request_id};
use pylon_shared::db::{RelayRecord, now_secs};
use pylon_shared::pricing::Price;
use std::net::IpAddr;
use std::time::Instant;

/// The request's parts a submission's log row is made of.
pub(super) struct Submitted<'a> {
    pub caller: &'a Caller,
    pub model: &'a str,
    pub group: &'a str,
    pub started: Instant,
    pub client_ip: Option<IpAddr>,
}

impl Submitted<'_> {
    /// The log row after trying the channels `tried`: `(log type, quota, status)`.
    pub fn record(
        &self,
        tried: &[i64],
        (log_type, quota, status): (i64, i64, i64),
        content: String,
    ) -> RelayRecord {
        let caller = self.caller;
        RelayRecord {
            request_id: request_id(),
            created_at: now_secs(),
            log_type,
            user_id: caller.user.id,
            username: caller.user.username.clone(),
            token_id: caller.token.id,
            token_name: caller.token.name.clone(),
            charge_token: !caller.token.unlimited,
            channel_id: tried.last().copied().unwrap_or(0),
            group: self.group.to_string(),
            model_name: self.model.to_string(),
            quota,
            use_time_ms: millis(self.started.elapsed()),
            ip: self.client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            status_code: status,
            retries: i64::try_from(tried.len().saturating_sub(1)).unwrap_or(0),
            content,
            other: "{}".into(),
            ..RelayRecord::default()
        }
    }
}

/// The quota of one request at a per-request price.
pub(super) fn per_request(price: &Price) -> i64 {
    match price {
        Price::PerRequest { quota, .. } => *quota,
        Price::PerToken { .. } => 0,
    }
}
