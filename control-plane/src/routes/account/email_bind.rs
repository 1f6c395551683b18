//! `POST /api/oauth/email/bind` (new-api's `EmailBind`): the signed-in user gives their account
//! an address, proven by the code `GET /api/verification` mailed to it: `{"email", "code"}` as
//! JSON (new-api's console), or `?email=&code=` (its older consoles). The code is used up; an
//! address another live account has is refused in the statement that binds, and nothing
//! changes. new-api's answer: `{"success": true, "message": ""}`.

use super::{address, critical_limit};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::verification::{self, Purpose};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use pylon_shared::changes::Topic;
use pylon_shared::db::EmailBinding;
use serde::Deserialize;

/// new-api's request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BindRequest {
    email: String,
    code: String,
}

impl BindRequest {
    /// The JSON body, or without one the query string.
    fn parse(query: Option<&str>, body: &[u8]) -> Result<Self, ApiError> {
        if !body.iter().all(u8::is_ascii_whitespace) {
            return parse_json(body);
        }
        let mut request = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match name.as_ref() {
                "email" => request.email = value.into_owned(),
                "code" => request.code = value.into_owned(),
                _ => {}
            }
        }
        Ok(request)
    }
}

pub async fn bind(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser { user }: AuthUser,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult {
    critical_limit(&app, "email_bind", ip).await?;
    let request = BindRequest::parse(query.as_deref(), &body)?;
    let email = address::normalize(&request.email)?;
    if request.code.trim().is_empty() {
        return Err(ApiError::invalid("Invalid parameters: code is missing"));
    }
    // The code first: only who reads the mailbox learns whether the address is taken (and
    // `GET /api/verification` mails no code for a taken address).
    if !verification::consume(&app, Purpose::EmailVerification, &email, &request.code).await? {
        return Err(ApiError::invalid(
            "The verification code is wrong or has expired",
        ));
    }
    match app.db.bind_email(user.id, &email).await? {
        EmailBinding::Bound => {}
        EmailBinding::Taken => {
            return Err(ApiError::invalid(
                "This email address is already used by another account",
            ));
        }
        EmailBinding::Gone => return Err(ApiError::invalid("User has been banned or deleted")),
    }
    app.changes.publish(Topic::User, user.id).await?;
    tracing::info!(user = user.id, "email address bound");
    Ok(envelope::ok_message(""))
}
