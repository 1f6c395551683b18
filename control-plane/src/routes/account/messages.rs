//! The texts of the mails this module sends: subject and HTML body of each. The code or token
//! stands alone in a `<strong>` element so that it is easy to spot (and for tests to read).

use crate::verification::VALID_FOR;

/// A mail's subject and HTML body.
pub struct Text {
    pub subject: String,
    pub html: String,
}

fn minutes() -> u64 {
    VALID_FOR.as_secs() / 60
}

/// Escapes text placed into HTML (the operator's system name, addresses).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The code that proves an address when registering.
pub fn registration_code(system: &str, code: &str) -> Text {
    let system = escape(system);
    Text {
        subject: format!("{system} email verification"),
        html: format!(
            "<p>Hello, you are verifying your email address for {system}.</p>\n\
             <p>Your verification code is: <strong>{code}</strong></p>\n\
             <p>The code is valid for {} minutes. If you did not ask for it, ignore this \
             mail.</p>\n",
            minutes()
        ),
    }
}

/// Sent instead of a code when someone registers with an address that already has an account:
/// the owner learns of it, the requester learns nothing.
pub fn registration_taken(system: &str) -> Text {
    let system = escape(system);
    Text {
        subject: format!("{system} email verification"),
        html: format!(
            "<p>Hello, someone asked to register a new {system} account with this email \
             address.</p>\n\
             <p>This address already belongs to an account, so no code was issued. If you \
             forgot your password, use the password reset instead.</p>\n\
             <p>If this was not you, ignore this mail.</p>\n"
        ),
    }
}

/// The code that logs in to the account with the address.
pub fn login_code(system: &str, code: &str) -> Text {
    let system = escape(system);
    Text {
        subject: format!("{system} login code"),
        html: format!(
            "<p>Hello, you asked to log in to {system} with your email address.</p>\n\
             <p>Your login code is: <strong>{code}</strong></p>\n\
             <p>The code is valid for {} minutes and works once. If you did not ask for it, \
             ignore this mail.</p>\n",
            minutes()
        ),
    }
}

/// The link (and its token) that resets the password of the account with the address.
pub fn password_reset(system: &str, server_address: &str, email: &str, token: &str) -> Text {
    let system = escape(system);
    let email_param: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    let link = escape(&format!(
        "{}/user/reset?email={email_param}&token={token}",
        server_address.trim_end_matches('/')
    ));
    Text {
        subject: format!("{system} password reset"),
        html: format!(
            "<p>Hello, you asked to reset your {system} password.</p>\n\
             <p>Click <a href=\"{link}\">here</a> to reset it, or open this link:<br>\n\
             {link}</p>\n\
             <p>Reset token: <strong>{token}</strong></p>\n\
             <p>The link is valid for {} minutes and works once. If you did not ask for it, \
             ignore this mail.</p>\n",
            minutes()
        ),
    }
}
