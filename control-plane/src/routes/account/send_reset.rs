//! `GET /api/reset_password?email=...`: mails a single-use password reset link to the account
//! with the address (new-api's link: `{ServerAddress}/user/reset?email=...&token=...`). The
//! answer is the same whether or not an account has the address; the mail is sent in the
//! background so that the time of the answer does not tell either.

use super::{EmailQuery, address, email_param, enabled_account, mail_limit, messages};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::mail::Mailer;
use crate::verification::{self, Purpose};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

pub async fn send_reset(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<EmailQuery>, QueryRejection>,
) -> ApiResult {
    let email = address::normalize(&email_param(query)?)?;
    mail_limit(&app, ip, &email).await?;
    let mailer = Mailer::from_options(&app).await?;
    tokio::spawn(async move {
        if let Err(error) = mail_reset_link(&app, &mailer, &email).await {
            tracing::warn!(?error, "sending a password reset mail failed");
        }
    });
    Ok(envelope::ok_message(""))
}

async fn mail_reset_link(
    app: &crate::app::App,
    mailer: &Mailer,
    email: &str,
) -> Result<(), ApiError> {
    if enabled_account(app, email).await?.is_none() {
        return Ok(());
    }
    let token = Purpose::PasswordReset.new_code();
    verification::issue(app, Purpose::PasswordReset, email, &token).await?;
    let server_address = app.settings.now().text("ServerAddress").to_string();
    let text = messages::password_reset(&mailer.system_name, server_address.trim(), email, &token);
    mailer.send(email, &text.subject, text.html).await
}
