//! Email-code login (seed 004's flow, also under its own paths) and password reset by email,
//! end to end through a test SMTP sink, on both backends; and that no mail or code endpoint
//! tells whether an address has an account.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{database, set_option};
use pylon_tests::registration_fixtures::{
    BAD_CODE, PASSWORD, other_than, pylon_with_mail, registered_console,
};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Status and body of an answer, for comparing two answers.
fn shape(answer: &Answer) -> (StatusCode, Value) {
    (answer.status, answer.body.clone())
}

async fn answers_do_not_reveal_accounts(backend: Backend) {
    let (pylon, sink, root) = pylon_with_mail(backend).await;
    registered_console(&pylon, &sink, "known", PASSWORD, "known@example.com").await;
    let anon = Console::new(&pylon.base_url);

    for path in [
        "/api/verification?email=",
        "/api/reset_password?email=",
        "/api/user/login/email?email=",
        "/api/send_sms?source=",
    ] {
        let known = anon.get(&format!("{path}known@example.com")).await;
        let unknown = anon
            .get(&format!("{path}nobody@example.com&turnstile=x"))
            .await;
        assert!(known.success(), "{path}: {known:?}");
        assert_eq!(shape(&known), shape(&unknown), "{path}");
    }
    // The known address got its mails (verification notice, reset link, two login codes);
    // the unknown one only the verification code.
    sink.wait_for("known@example.com", 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails_to("nobody@example.com").len(), 1);

    let known = anon
        .post(
            "/api/user/login/email",
            json!({"email": "known@example.com", "code": "000000"}),
        )
        .await;
    let unknown = anon
        .post(
            "/api/user/login/email",
            json!({"email": "nobody@example.com", "code": "000000"}),
        )
        .await;
    assert_eq!(known.message(), BAD_CODE);
    assert_eq!(shape(&known), shape(&unknown));
    let known = anon
        .post(
            "/api/user/reset",
            json!({"email": "known@example.com", "token": "x".repeat(32)}),
        )
        .await;
    let unknown = anon
        .post(
            "/api/user/reset",
            json!({"email": "nobody@example.com", "token": "x".repeat(32)}),
        )
        .await;
    assert!(!known.success());
    assert_eq!(shape(&known), shape(&unknown));

    // Without an SMTP server the mail endpoints say so. (Fresh addresses: the two above have
    // spent their mail budget.)
    set_option(&root, "SMTPServer", "").await;
    for path in ["/api/verification?email=", "/api/reset_password?email="] {
        let answer = anon.get(&format!("{path}fresh@example.com")).await;
        assert!(!answer.success());
        assert!(answer.message().contains("SMTP"), "{answer:?}");
    }
}
on_every_backend!(answers_do_not_reveal_accounts);

async fn password_reset_by_email(backend: Backend) {
    let (pylon, sink, _root) = pylon_with_mail(backend).await;
    let user = registered_console(&pylon, &sink, "forgetful", PASSWORD, "forget@example.com").await;
    let mut by_token = Console::new(&pylon.base_url);
    by_token.user_id = user.user_id;
    by_token.bearer = user
        .get("/api/user/token")
        .await
        .data()
        .as_str()
        .map(str::to_string);
    assert!(by_token.get("/api/user/self").await.success());
    let anon = Console::new(&pylon.base_url);

    let asked = anon
        .get("/api/reset_password?email=Forget@Example.com")
        .await;
    assert!(asked.success(), "{asked:?}");
    let mail = sink.wait_for("forget@example.com", 2).await;
    assert!(
        mail.body
            .contains("/user/reset?email=forget%40example.com&amp;token="),
        "{mail:?}"
    );
    let token = mail.strong().expect("token");

    let malformed = anon.post_raw("/api/user/reset", "{").await;
    assert!(
        malformed.message().starts_with("Invalid parameters"),
        "{malformed:?}"
    );
    let crossed = anon
        .post(
            "/api/user/login/email",
            json!({"email": "forget@example.com", "code": token}),
        )
        .await;
    assert_eq!(
        crossed.message(),
        BAD_CODE,
        "a reset token is not a login code"
    );

    let reset = anon
        .post(
            "/api/user/reset",
            json!({"email": "forget@example.com", "token": token}),
        )
        .await;
    assert!(reset.success(), "{reset:?}");
    let new_password = reset.data().as_str().expect("new password").to_string();
    assert_eq!(new_password.len(), 12);
    let replay = anon
        .post(
            "/api/user/reset",
            json!({"email": "forget@example.com", "token": token}),
        )
        .await;
    assert!(!replay.success());

    // Every old credential is gone: the session cookie, the access token, the password.
    let old_session = user.get("/api/user/self").await;
    assert_eq!(
        old_session.status,
        StatusCode::UNAUTHORIZED,
        "{old_session:?}"
    );
    let old_token = by_token.get("/api/user/self").await;
    assert_eq!(old_token.status, StatusCode::UNAUTHORIZED, "{old_token:?}");
    let old_password = anon
        .post(
            "/api/user/login",
            json!({"username": "forgetful", "password": PASSWORD}),
        )
        .await;
    assert!(!old_password.success());
    let mut fresh = Console::new(&pylon.base_url);
    fresh.login("forgetful", &new_password).await;
    assert!(fresh.get("/api/user/self").await.success());
}
on_every_backend!(password_reset_by_email);

async fn login_with_email_code(backend: Backend) {
    let (pylon, sink, _root) = pylon_with_mail(backend).await;
    let mut password_console =
        registered_console(&pylon, &sink, "coder", PASSWORD, "coder@example.com").await;
    let by_password = password_console.get("/api/user/self").await;
    let mut console = Console::new(&pylon.base_url);

    let asked = console
        .get("/api/user/login/email?email=coder@example.com")
        .await;
    assert!(asked.success(), "{asked:?}");
    let code = sink
        .wait_for("coder@example.com", 2)
        .await
        .strong()
        .expect("code");
    let crossed = console
        .post(
            "/api/user/reset",
            json!({"email": "coder@example.com", "token": code}),
        )
        .await;
    assert!(!crossed.success(), "a login code is not a reset token");
    let wrong = console
        .post(
            "/api/user/login/email",
            json!({"email": "coder@example.com", "code": other_than(&code)}),
        )
        .await;
    assert_eq!(wrong.message(), BAD_CODE);
    let malformed = console.post_raw("/api/user/login/email", "[").await;
    assert!(
        malformed.message().starts_with("Invalid parameters"),
        "{malformed:?}"
    );

    let login = console
        .post(
            "/api/user/login/email",
            json!({"email": "Coder@Example.com", "code": code}),
        )
        .await;
    assert!(login.success(), "{login:?}");
    let expected = password_console.login("coder", PASSWORD).await;
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(login.data()),
        keys(&expected),
        "same data as a password login"
    );
    assert_eq!(login.data()["id"], by_password.data()["id"]);
    console.user_id = login.data()["id"].as_i64();
    let me = console.get("/api/user/self").await;
    assert_eq!(
        me.data()["username"],
        json!("coder"),
        "the session cookie was set"
    );

    let replay = Console::new(&pylon.base_url)
        .post(
            "/api/user/login/email",
            json!({"email": "coder@example.com", "code": code}),
        )
        .await;
    assert_eq!(replay.message(), BAD_CODE);

    // Seed 004's paths, with the code as a JSON number as that API types it.
    let asked = console.get("/api/send_sms?source=coder@example.com").await;
    assert!(asked.success(), "{asked:?}");
    let code = sink
        .wait_for("coder@example.com", 3)
        .await
        .strong()
        .expect("code");
    let number: u64 = code.parse().expect("digits");
    let alias = Console::new(&pylon.base_url)
        .post(
            "/api/login",
            json!({"account": "coder@example.com", "code": number}),
        )
        .await;
    assert!(alias.success(), "{alias:?}");
    assert_eq!(alias.data()["username"], json!("coder"));

    // Five wrong guesses burn a code.
    console
        .get("/api/user/login/email?email=coder@example.com")
        .await;
    let code = sink
        .wait_for("coder@example.com", 4)
        .await
        .strong()
        .expect("code");
    for _ in 0..5 {
        let guess = console
            .post(
                "/api/user/login/email",
                json!({"email": "coder@example.com", "code": other_than(&code)}),
            )
            .await;
        assert_eq!(guess.message(), BAD_CODE);
    }
    let late = console
        .post(
            "/api/user/login/email",
            json!({"email": "coder@example.com", "code": code}),
        )
        .await;
    assert_eq!(late.message(), BAD_CODE);

    // A code issued before the account was disabled does not log in to it.
    console
        .get("/api/user/login/email?email=coder@example.com")
        .await;
    let code = sink
        .wait_for("coder@example.com", 5)
        .await
        .strong()
        .expect("code");
    sqlx::query("UPDATE users SET status = 2 WHERE username = 'coder'")
        .execute(&database(&pylon).await)
        .await
        .expect("disable");
    let disabled = Console::new(&pylon.base_url)
        .post(
            "/api/user/login/email",
            json!({"email": "coder@example.com", "code": code}),
        )
        .await;
    assert_eq!(disabled.message(), BAD_CODE);
}
on_every_backend!(login_with_email_code);
