//! `/api/log/*`: the relay's log rows. Admins read everyone's (`/api/log/`), users their own
//! (`/api/log/self`), with new-api's filters and pagination, or search them
//! (`/api/log/search`, `/api/log/self/search`); a key reads its own (`/api/log/token`); admins
//! delete old rows (`DELETE /api/log/`).

pub(super) mod by_key;
pub(super) mod channel_affinity_usage;
pub(super) mod dead_letters;
pub(super) mod delete;
pub(super) mod list;
pub(super) mod search;
pub(super) mod stat;

use pylon_shared::db::{LogFilter, LogRow};
use serde::Deserialize;

/// Query parameters of the log routes (new-api names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    #[serde(rename = "type")]
    pub log_type: i64,
    pub start_timestamp: i64,
    pub end_timestamp: i64,
    pub username: String,
    pub token_name: String,
    pub model_name: String,
    pub channel: i64,
    pub group: String,
    /// Only this key's rows (an id).
    pub token_id: i64,
    /// Only the row of this request id (`X-Request-Id` of the answer).
    pub request_id: String,
    /// Keyset pagination: the rows older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
}

impl LogQuery {
    /// The filter for an admin (`user_id` None) or for one user (user-only fields ignored).
    pub fn filter(&self, user_id: Option<i64>) -> LogFilter {
        let own = user_id.is_some();
        LogFilter {
            user_id,
            log_type: self.log_type,
            start_timestamp: self.start_timestamp,
            end_timestamp: self.end_timestamp,
            username: if own {
                String::new()
            } else {
                self.username.clone()
            },
            token_name: self.token_name.clone(),
            model_name: self.model_name.clone(),
            channel_id: if own { 0 } else { self.channel },
            group: self.group.clone(),
            token_id: self.token_id,
            request_id: self.request_id.clone(),
            exclude_type: 0,
        }
    }
}

/// Rows as their user sees them: without new-api's details for administrators
/// (`other.admin_info`, e.g. the channel affinity that routed the request).
pub fn for_user(mut rows: Vec<LogRow>) -> Vec<LogRow> {
    for row in rows
        .iter_mut()
        .filter(|row| row.other.contains("\"admin_info\""))
    {
        if let Ok(mut other) =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&row.other)
        {
            other.remove("admin_info");
            row.other = serde_json::Value::Object(other).to_string();
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_do_not_see_admin_info() {
        let row = |other: &str| LogRow {
            other: other.to_string(),
            ..LogRow::default()
        };
        let rows = for_user(vec![
            row(r#"{"cache_tokens":1,"admin_info":{"channel_affinity":{}}}"#),
            row("{}"),
        ]);
        assert_eq!(rows[0].other, r#"{"cache_tokens":1}"#);
        assert_eq!(rows[1].other, "{}");
    }
}
