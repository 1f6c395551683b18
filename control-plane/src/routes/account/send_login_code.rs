//! `GET /api/user/login/email?email=...` (and seed 004's `GET /api/send_sms?source=...`): mails
//! a single-use login code to the account with the address, for accounts that log in without
//! a password. The answer is the same whether or not an account has the address; the mail is
//! sent in the background so that the time of the answer does not tell either.

use super::{EmailQuery, address, email_param, enabled_account, mail_limit, messages};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::mail::Mailer;
use crate::verification::{self, Purpose};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use std::net::IpAddr;

pub async fn send_login_code(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<EmailQuery>, QueryRejection>,
) -> ApiResult {
    send(app, ip, &email_param(query)?).await
}

/// Seed 004's query: the address is `source`.
#[derive(Deserialize)]
pub struct SourceQuery {
    #[serde(default)]
    source: String,
}

pub async fn send_sms(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<SourceQuery>, QueryRejection>,
) -> ApiResult {
    let source = query
        .map(|Query(q)| q.source)
        .map_err(|_| ApiError::invalid("Invalid parameters"))?;
    send(app, ip, &source).await
}

async fn send(app: AppState, ip: IpAddr, raw_email: &str) -> ApiResult {
    let email = address::normalize(raw_email)?;
    mail_limit(&app, ip, &email).await?;
    let mailer = Mailer::from_options(&app).await?;
    tokio::spawn(async move {
        if let Err(error) = mail_login_code(&app, &mailer, &email).await {
            tracing::warn!(?error, "sending a login code failed");
        }
    });
    Ok(envelope::ok_message(""))
}

async fn mail_login_code(app: &App, mailer: &Mailer, email: &str) -> Result<(), ApiError> {
    if enabled_account(app, email).await?.is_none() {
        return Ok(());
    }
    let code = Purpose::Login.new_code();
    verification::issue(app, Purpose::Login, email, &code).await?;
    let text = messages::login_code(&mailer.system_name, &code);
    mailer.send(email, &text.subject, text.html).await
}
