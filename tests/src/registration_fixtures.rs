//! Accounts made through the public registration API, with codes read from a test SMTP sink:
//! a Pylon whose mail goes to an [`SmtpSink`], and registered users with a verified email.

use crate::Backend;
use crate::client::{Answer, Console};
use crate::fixtures::{root_console, set_option};
use crate::process::Pylon;
use crate::smtp_sink::SmtpSink;
use serde_json::json;

/// The password of users registered by these fixtures.
pub const PASSWORD: &str = "registered-pass-1";
/// Pylon's answer to a wrong, used, expired or unknown code.
pub const BAD_CODE: &str = "Verification code is incorrect or has expired";

/// The SMTP account Pylon authenticates as in these tests.
pub const SMTP_ACCOUNT: &str = "pylon-mailer";

/// A Pylon on `backend` whose mail goes to a fresh sink, with email verification on, and a
/// logged-in root console to change options with.
pub async fn pylon_with_mail(backend: Backend) -> (Pylon, SmtpSink, Console) {
    let pylon = Pylon::start(backend).await;
    let sink = SmtpSink::start().await;
    let root = root_console(&pylon).await;
    for (key, value) in [
        ("SMTPServer", "127.0.0.1".to_string()),
        ("SMTPPort", sink.port.to_string()),
        ("SMTPAccount", SMTP_ACCOUNT.to_string()),
        ("SMTPToken", "smtp-secret".to_string()),
        ("SMTPFrom", "noreply@pylon.test".to_string()),
        ("SMTPSSLEnabled", "false".to_string()),
        ("EmailVerificationEnabled", "true".to_string()),
    ] {
        set_option(&root, key, &value).await;
    }
    (pylon, sink, root)
}

/// Asks for a verification code for `email` and returns it (read from the sink).
pub async fn verification_code(console: &Console, sink: &SmtpSink, email: &str) -> String {
    let before = sink.mails_to(email).len();
    let answer = console
        .get(&format!("/api/verification?email={email}"))
        .await;
    assert!(answer.success(), "verification for {email}: {answer:?}");
    let mail = sink.wait_for(email, before + 1).await;
    mail.strong()
        .unwrap_or_else(|| panic!("no code in the mail: {mail:?}"))
}

/// Registers `username` with a verified `email` (and an optional invitation code).
pub async fn register(
    console: &Console,
    sink: &SmtpSink,
    username: &str,
    password: &str,
    email: &str,
    aff_code: &str,
) -> Answer {
    let code = verification_code(console, sink, email).await;
    console
        .post(
            "/api/user/register",
            json!({
                "username": username, "password": password, "password2": password,
                "email": email, "verification_code": code, "aff_code": aff_code
            }),
        )
        .await
}

/// Registers `username` with a verified `email`, asserts success and returns its logged-in
/// console.
pub async fn registered_console(
    pylon: &Pylon,
    sink: &SmtpSink,
    username: &str,
    password: &str,
    email: &str,
) -> Console {
    let mut console = Console::new(&pylon.base_url);
    let answer = register(&console, sink, username, password, email, "").await;
    assert!(answer.success(), "registering {username}: {answer:?}");
    console.login(username, password).await;
    console
}

/// A code that is surely not `code`.
pub fn other_than(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_string()
}
