//! `GET /api/verification?email=...`: mails a code that proves the address (new-api's email
//! verification, used to register). Unlike new-api, an address that already has an account gets
//! the same answer: its owner is mailed a notice instead of a code, so the requester cannot tell.

use super::{EmailQuery, address, email_param, mail_limit, messages};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::ApiResult;
use crate::mail::Mailer;
use crate::verification::{self, Purpose};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};

pub async fn send_verification(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    query: Result<Query<EmailQuery>, QueryRejection>,
) -> ApiResult {
    let email = address::normalize(&email_param(query)?)?;
    mail_limit(&app, ip, &email).await?;
    address::check_allowed(&app, &email).await?;
    let mailer = Mailer::from_options(&app).await?;
    let text = if app.db.email_in_use(&email).await? {
        messages::registration_taken(&mailer.system_name)
    } else {
        let code = Purpose::EmailVerification.new_code();
        verification::issue(&app, Purpose::EmailVerification, &email, &code).await?;
        messages::registration_code(&mailer.system_name, &code)
    };
    mailer.send(&email, &text.subject, text.html).await?;
    Ok(envelope::ok_message(""))
}
