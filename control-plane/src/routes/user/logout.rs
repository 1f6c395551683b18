//! `GET /api/user/logout`: ends the current session (revoked server-side) and clears the cookie.

use crate::app::AppState;
use crate::auth::session;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use axum::http::{HeaderMap, header};

pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(found) = session::from_headers(&headers, &app).await? {
        app.db.delete_session(&found.id_hash).await?;
    }
    let mut response = envelope::ok_message("");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clearing_cookie()?);
    Ok(response)
}
