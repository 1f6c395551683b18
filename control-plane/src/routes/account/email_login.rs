//! `POST /api/user/login/email` `{"email", "code"}` (and seed 004's `POST /api/login`
//! `{"account", "code"}`): logs in with a code mailed by `GET /api/user/login/email`. Success
//! sets the session cookie and answers exactly like `POST /api/user/login` (including its
//! second-factor step for users with 2FA). A wrong, used or
//! expired code, an unknown address and a disabled account all get the same answer. Throttled
//! per client IP and per account with the password login's budgets.

use super::{address, enabled_account};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::rate_limit;
use crate::routes::user::login;
use crate::verification::{self, Purpose};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

const BAD_CODE: &str = "Verification code is incorrect or has expired";
/// Digits of a login code: a code sent as a JSON number (seed 004 types it as an integer) gets
/// its leading zeros back.
const CODE_DIGITS: usize = 6;

#[derive(Deserialize)]
struct EmailLoginRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: Value,
}

#[derive(Deserialize)]
struct AliasLoginRequest {
    #[serde(default)]
    account: String,
    #[serde(default)]
    code: Value,
}

pub async fn email_login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    rate_limit::login_attempt(&app, ip).await?;
    let request: EmailLoginRequest = parse_json(&body)?;
    log_in(&app, ip, &headers, &request.email, &request.code).await
}

pub async fn login_alias(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    rate_limit::login_attempt(&app, ip).await?;
    let request: AliasLoginRequest = parse_json(&body)?;
    log_in(&app, ip, &headers, &request.account, &request.code).await
}

/// The code as text: a string as given, a non-negative integer with its leading zeros.
fn code_text(code: &Value) -> Result<String, ApiError> {
    match code {
        Value::String(text) => Ok(text.trim().to_string()),
        Value::Number(number) => number
            .as_u64()
            .map(|n| format!("{n:0CODE_DIGITS$}"))
            .ok_or_else(|| ApiError::invalid("Invalid parameters: code must be a string")),
        Value::Null => Ok(String::new()),
        _ => Err(ApiError::invalid(
            "Invalid parameters: code must be a string",
        )),
    }
}

async fn log_in(
    app: &AppState,
    ip: std::net::IpAddr,
    headers: &HeaderMap,
    raw_email: &str,
    code: &Value,
) -> ApiResult {
    let code = code_text(code)?;
    if raw_email.trim().is_empty() || code.is_empty() {
        return Err(ApiError::invalid("Invalid parameters"));
    }
    let email = address::normalize(raw_email)?;
    rate_limit::account_locked(app, &email).await?;
    let user = if verification::consume(app, Purpose::Login, &email, &code).await? {
        enabled_account(app, &email).await?
    } else {
        None
    };
    let Some(user) = user else {
        rate_limit::login_failed(app, &email).await?;
        return Err(ApiError::invalid(BAD_CODE));
    };

    if app.db.two_factor_enabled(user.id).await? {
        return login::require_second_factor(app, user.id).await;
    }
    login::sign_in(app, &user, ip, headers).await
}

#[cfg(test)]
mod tests {
    use super::code_text;
    use serde_json::json;

    #[test]
    fn numeric_codes_keep_their_leading_zeros() {
        assert_eq!(code_text(&json!(14198)).unwrap(), "014198");
        assert_eq!(code_text(&json!(" 014198 ")).unwrap(), "014198");
        assert_eq!(code_text(&json!(null)).unwrap(), "");
        assert!(code_text(&json!(-1)).is_err());
        assert!(code_text(&json!([1])).is_err());
    }
}
