//! Sending mail over SMTP with the operator's settings, which are new-api's options
//! (`SMTPServer`, `SMTPPort`, `SMTPAccount`, `SMTPToken`, `SMTPFrom`, `SMTPSSLEnabled`). As in
//! new-api, `SMTPSSLEnabled` or port 465 means implicit TLS; otherwise the connection starts in
//! plain text and is upgraded with STARTTLS when the server offers it.

use crate::app::App;
use crate::error::ApiError;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// new-api's default SMTP port (submission).
const DEFAULT_PORT: u16 = 587;
/// The port of SMTP over implicit TLS.
const IMPLICIT_TLS_PORT: u16 = 465;
/// The name in the `From` header when the `SystemName` option is not set.
const DEFAULT_SYSTEM_NAME: &str = "Pylon";
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The SMTP settings of the moment, ready to send; cheap to clone into a background task.
#[derive(Clone)]
pub struct Mailer {
    server: String,
    port: u16,
    account: String,
    token: String,
    from: Mailbox,
    implicit_tls: bool,
    /// The operator's `SystemName`, for subjects and texts.
    pub system_name: String,
}

impl Mailer {
    /// Reads the SMTP options. Fails with a clear message when no SMTP server is configured or
    /// the settings cannot work (a bad port or sender address).
    pub async fn from_options(app: &App) -> Result<Self, ApiError> {
        let snapshot = app.settings.now();
        let options = snapshot.stored();
        let get = |key: &str| options.get(key).map(|v| v.trim()).unwrap_or("").to_string();
        let server = get("SMTPServer");
        if server.is_empty() {
            return Err(ApiError::invalid(
                "Email sending is not configured: an administrator must set the SMTP server \
                 (option SMTPServer)",
            ));
        }
        let port = match get("SMTPPort").as_str() {
            "" => DEFAULT_PORT,
            text => text
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::invalid("The SMTPPort option is not a valid port"))?,
        };
        let account = get("SMTPAccount");
        // Like new-api, the account is the sender when no sender is set.
        let from_address = match get("SMTPFrom") {
            from if from.is_empty() => account.clone(),
            from => from,
        };
        let system_name = match get("SystemName") {
            name if name.is_empty() => DEFAULT_SYSTEM_NAME.to_string(),
            name => name,
        };
        let address = from_address.parse().map_err(|_| {
            ApiError::invalid("The SMTPFrom option (or SMTPAccount) is not a valid email address")
        })?;
        Ok(Self {
            implicit_tls: get("SMTPSSLEnabled") == "true" || port == IMPLICIT_TLS_PORT,
            from: Mailbox::new(Some(system_name.clone()), address),
            server,
            port,
            account,
            token: options.get("SMTPToken").cloned().unwrap_or_default(),
            system_name,
        })
    }

    /// Sends one HTML mail to `to`. The SMTP error is logged; the caller gets a message that
    /// does not expose the mail server's details.
    pub async fn send(&self, to: &str, subject: &str, html: String) -> Result<(), ApiError> {
        let recipient: Mailbox = to
            .parse()
            .map_err(|_| ApiError::invalid("Invalid email address"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(subject)
            .header(ContentType::TEXT_HTML)
            .body(html)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("building a mail failed: {e}")))?;
        let transport = self.transport()?;
        transport.send(message).await.map_err(|error| {
            tracing::warn!(%error, server = %self.server, port = self.port, "sending mail failed");
            ApiError::invalid("Failed to send the email, please try again later")
        })?;
        Ok(())
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, ApiError> {
        let parameters = TlsParameters::new(self.server.clone()).map_err(|error| {
            tracing::warn!(%error, server = %self.server, "SMTP TLS setup failed");
            ApiError::invalid("The SMTP server name cannot be used for TLS")
        })?;
        let tls = if self.implicit_tls {
            Tls::Wrapper(parameters)
        } else {
            Tls::Opportunistic(parameters)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.server)
            .port(self.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if !self.account.is_empty() {
            builder =
                builder.credentials(Credentials::new(self.account.clone(), self.token.clone()));
        }
        Ok(builder.build())
    }
}
