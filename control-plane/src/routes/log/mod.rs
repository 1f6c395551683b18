//! `/api/log/*`: the relay's log rows. Admins read everyone's (`/api/log/`), users their own
//! (`/api/log/self`), with new-api's filters and pagination.

mod dead_letters;
mod list;
mod stat;

use crate::app::AppState;
use axum::Router;
use axum::routing::get;
use pylon_shared::db::LogFilter;
use serde::Deserialize;

/// The log routes, with and without new-api's trailing slash on the list.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/log", get(list::all))
        .route("/api/log/", get(list::all))
        .route("/api/log/self", get(list::own))
        .route("/api/log/stat", get(stat::all))
        .route("/api/log/self/stat", get(stat::own))
        .route("/api/log/dead_letters", get(dead_letters::list))
}

/// Query parameters of the log routes (new-api names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogQuery {
    pub p: Option<i64>,
    pub page_size: Option<i64>,
    #[serde(rename = "type")]
    pub log_type: i64,
    pub start_timestamp: i64,
    pub end_timestamp: i64,
    pub username: String,
    pub token_name: String,
    pub model_name: String,
    pub channel: i64,
    pub group: String,
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
        }
    }
}
