//! `GET /api/log/token`: the newest log rows of the key that calls (new-api's `GetLogByKey`),
//! authenticated by the `sk-` key itself (see `token::key_auth`), readable from any web page
//! (CORS, as new-api serves it). At most `search::MAX_ROWS` rows, read through the key's index.

use super::search::MAX_ROWS;
use crate::app::AppState;
use crate::cors;
use crate::envelope;
use crate::error::ApiResult;
use crate::routes::token::key_auth;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use pylon_shared::db::LogFilter;

pub async fn by_key(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let answer = match key_auth::read_only(&app, &headers).await? {
        Ok(token) => {
            let filter = LogFilter {
                token_id: token.id,
                ..LogFilter::default()
            };
            envelope::ok(super::for_user(
                app.db.newest_logs(&filter, MAX_ROWS).await?,
            ))
        }
        Err(refusal) => refusal,
    };
    Ok(cors::allow(&headers, answer))
}

/// The browser's preflight of `GET /api/log/token`.
pub async fn preflight(headers: HeaderMap) -> Response {
    cors::preflight(&headers)
}
