//! Registration with email verification and invitation codes, end to end through a test SMTP
//! sink, on both backends: the happy path with its rewards, every refusal (changing nothing),
//! and the rate limits of the mail and code endpoints. Email-code login and password reset are
//! in `email_login_and_reset.rs`.

use pylon_tests::fixtures::{database, scalar, set_option};
use pylon_tests::registration_fixtures::{
    BAD_CODE, PASSWORD, SMTP_ACCOUNT, other_than, pylon_with_mail, register, registered_console,
    verification_code,
};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn user_count(pool: &sqlx::AnyPool) -> i64 {
    scalar(pool, "SELECT COUNT(*) FROM users").await
}

fn register_body(username: &str, email: &str, code: &str) -> Value {
    json!({
        "username": username, "password": PASSWORD, "email": email,
        "verification_code": code, "aff_code": ""
    })
}

async fn register_with_invitation_and_email_code(backend: Backend) {
    let (pylon, sink, root) = pylon_with_mail(backend).await;
    set_option(&root, "QuotaForNewUser", "500").await;
    set_option(&root, "QuotaForInviter", "1000").await;
    set_option(&root, "QuotaForInvitee", "2000").await;
    let pool = database(&pylon).await;

    let inviter =
        registered_console(&pylon, &sink, "inviter", PASSWORD, "inviter@example.com").await;
    let inviter_self = inviter.get("/api/user/self").await;
    let aff_code = inviter_self.data()["aff_code"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        !aff_code.is_empty(),
        "registered users get an invitation code: {inviter_self:?}"
    );

    // The mail came through SMTP with the configured account and sender.
    let mail = sink.wait_for("inviter@example.com", 1).await;
    assert_eq!(mail.auth_user.as_deref(), Some(SMTP_ACCOUNT));
    assert_eq!(mail.from, "noreply@pylon.test");
    assert!(mail.subject.contains("verification"), "{mail:?}");

    let mut invitee = Console::new(&pylon.base_url);
    let answer = register(
        &invitee,
        &sink,
        "invitee",
        PASSWORD,
        "Invitee@Example.com",
        &aff_code,
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.message(), "");
    let login = invitee.login("invitee", PASSWORD).await;
    let invitee_id = login["id"].as_i64().expect("id");
    let me = invitee.get("/api/user/self").await;
    let inviter_id = inviter.user_id.expect("inviter id");
    assert_eq!(me.data()["inviter_id"], json!(inviter_id));
    assert_eq!(me.data()["email"], json!("invitee@example.com"));
    assert_eq!(me.data()["role"], json!(1));
    assert_eq!(me.data()["group"], json!("default"));
    assert_eq!(me.data()["display_name"], json!("invitee"));
    assert_eq!(
        me.data()["quota"],
        json!(2500),
        "QuotaForNewUser + QuotaForInvitee"
    );

    let inviter_self = inviter.get("/api/user/self").await;
    assert_eq!(inviter_self.data()["aff_count"], json!(1));
    assert_eq!(inviter_self.data()["aff_quota"], json!(1000));
    assert_eq!(inviter_self.data()["aff_history_quota"], json!(1000));
    assert_eq!(
        inviter_self.data()["quota"],
        json!(500),
        "the inviter's quota is untouched"
    );

    let invite_logs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4 AND quota = 2000 \
         AND content LIKE 'Invite code bonus%'",
    )
    .bind(invitee_id)
    .fetch_one(&pool)
    .await
    .expect("logs");
    assert_eq!(invite_logs, 1);
    let inviter_logs: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM logs WHERE user_id = ? AND type = 4 AND quota = 1000",
    )
    .bind(inviter_id)
    .fetch_one(&pool)
    .await
    .expect("logs");
    assert_eq!(inviter_logs, 1);

    // The code was used up: a second registration with it fails and creates nobody.
    let users = user_count(&pool).await;
    let code = sink
        .wait_for("invitee@example.com", 1)
        .await
        .strong()
        .expect("code");
    let replay = invitee
        .post(
            "/api/user/register",
            register_body("invitee2", "invitee@example.com", &code),
        )
        .await;
    assert!(!replay.success());
    assert_eq!(replay.message(), BAD_CODE);
    assert_eq!(user_count(&pool).await, users);

    // An unknown invitation code registers without an inviter.
    let loner = Console::new(&pylon.base_url);
    let answer = register(
        &loner,
        &sink,
        "loner",
        PASSWORD,
        "loner@example.com",
        "NOPE",
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    let inviter_of_loner: i64 =
        sqlx::query_scalar("SELECT inviter_id FROM users WHERE username = 'loner'")
            .fetch_one(&pool)
            .await
            .expect("loner");
    assert_eq!(inviter_of_loner, 0);
    let inviter_self = inviter.get("/api/user/self").await;
    assert_eq!(inviter_self.data()["aff_count"], json!(1));
}
on_every_backend!(register_with_invitation_and_email_code);

async fn registration_code_refusals(backend: Backend) {
    let (pylon, sink, _root) = pylon_with_mail(backend).await;
    let pool = database(&pylon).await;
    let anon = Console::new(&pylon.base_url);
    let users = user_count(&pool).await;

    // A wrong code.
    let code = verification_code(&anon, &sink, "a@example.com").await;
    let wrong = anon
        .post(
            "/api/user/register",
            register_body("alice", "a@example.com", &other_than(&code)),
        )
        .await;
    assert_eq!(wrong.message(), BAD_CODE);
    // A code minted for another address.
    let code_b = verification_code(&anon, &sink, "b@example.com").await;
    let crossed = anon
        .post(
            "/api/user/register",
            register_body("alice", "a@example.com", &code_b),
        )
        .await;
    assert_eq!(crossed.message(), BAD_CODE);
    // No code at all, with verification on.
    let missing = anon
        .post(
            "/api/user/register",
            register_body("alice", "a@example.com", ""),
        )
        .await;
    assert!(!missing.success());
    assert!(missing.message().contains("verification"), "{missing:?}");
    assert_eq!(user_count(&pool).await, users);

    // Wrong guesses burn the code: after the fifth, even the right code is refused.
    let code_c = verification_code(&anon, &sink, "c@example.com").await;
    for _ in 0..5 {
        let guess = anon
            .post(
                "/api/user/register",
                register_body("carol", "c@example.com", &other_than(&code_c)),
            )
            .await;
        assert_eq!(guess.message(), BAD_CODE);
    }
    let late = anon
        .post(
            "/api/user/register",
            register_body("carol", "c@example.com", &code_c),
        )
        .await;
    assert_eq!(late.message(), BAD_CODE);
    assert_eq!(user_count(&pool).await, users);

    // The earlier right codes still work (a wrong guess does not use a code up).
    let ok = anon
        .post(
            "/api/user/register",
            register_body("alice", "a@example.com", &code),
        )
        .await;
    assert!(ok.success(), "{ok:?}");
    assert_eq!(user_count(&pool).await, users + 1);

    // An address with an account: the same answer, but its owner gets a notice, not a code.
    let again = anon.get("/api/verification?email=a@example.com").await;
    assert!(again.success(), "{again:?}");
    let notice = sink.wait_for("a@example.com", 2).await;
    assert_eq!(
        notice.strong(),
        None,
        "no code for a taken address: {notice:?}"
    );
    let taken = anon
        .post(
            "/api/user/register",
            register_body("alice2", "a@example.com", &code),
        )
        .await;
    assert_eq!(taken.message(), BAD_CODE);
    assert_eq!(user_count(&pool).await, users + 1);
}
on_every_backend!(registration_code_refusals);

async fn registration_input_refusals(backend: Backend) {
    let (pylon, sink, root) = pylon_with_mail(backend).await;
    let pool = database(&pylon).await;
    let anon = Console::new(&pylon.base_url);
    let users = user_count(&pool).await;

    let malformed = anon.post_raw("/api/user/register", "{\"username\": ").await;
    assert_eq!(malformed.status, StatusCode::OK);
    assert!(
        malformed.message().starts_with("Invalid parameters"),
        "{malformed:?}"
    );
    let wrong_type = anon
        .post(
            "/api/user/register",
            json!({"username": 5, "password": PASSWORD}),
        )
        .await;
    assert!(
        wrong_type.message().starts_with("Invalid parameters"),
        "{wrong_type:?}"
    );
    let short = anon
        .post(
            "/api/user/register",
            json!({"username": "shorty", "password": "short"}),
        )
        .await;
    assert!(short.message().contains("at least 8"), "{short:?}");
    let mismatch = anon
        .post(
            "/api/user/register",
            json!({"username": "mismatch", "password": PASSWORD, "password2": "other-pass-123"}),
        )
        .await;
    assert!(mismatch.message().contains("do not match"), "{mismatch:?}");
    let spaced = anon
        .post(
            "/api/user/register",
            json!({"username": "a b", "password": PASSWORD}),
        )
        .await;
    assert!(!spaced.success());

    // Domain whitelist: no code is sent, and registration is refused.
    set_option(&root, "EmailDomainRestrictionEnabled", "true").await;
    set_option(&root, "EmailDomainWhitelist", "example.com,pylon.test").await;
    let outside = anon.get("/api/verification?email=eve@evil.test").await;
    assert!(!outside.success());
    assert!(outside.message().contains("whitelist"), "{outside:?}");
    let refused = anon
        .post(
            "/api/user/register",
            register_body("eve", "eve@evil.test", "123456"),
        )
        .await;
    assert!(refused.message().contains("whitelist"), "{refused:?}");
    assert!(sink.mails_to("eve@evil.test").is_empty());
    let invalid = anon.get("/api/verification?email=not-an-address").await;
    assert_eq!(invalid.message(), "Invalid email address");

    // Duplicate username: refused before the code is used, which then still works.
    let first = register(&anon, &sink, "dupe", PASSWORD, "dupe1@example.com", "").await;
    assert!(first.success(), "{first:?}");
    let code = verification_code(&anon, &sink, "dupe2@example.com").await;
    let duplicate = anon
        .post(
            "/api/user/register",
            register_body("dupe", "dupe2@example.com", &code),
        )
        .await;
    assert!(
        duplicate.message().contains("already exists"),
        "{duplicate:?}"
    );
    let renamed = anon
        .post(
            "/api/user/register",
            register_body("dupe2", "dupe2@example.com", &code),
        )
        .await;
    assert!(renamed.success(), "{renamed:?}");
    assert_eq!(user_count(&pool).await, users + 2);

    // Registration switched off.
    set_option(&root, "RegisterEnabled", "false").await;
    let closed = anon
        .post(
            "/api/user/register",
            register_body("late", "late@example.com", "123456"),
        )
        .await;
    assert!(closed.message().contains("disabled"), "{closed:?}");
    set_option(&root, "RegisterEnabled", "true").await;
    set_option(&root, "PasswordRegisterEnabled", "false").await;
    let no_password = anon
        .post(
            "/api/user/register",
            register_body("late", "late@example.com", "123456"),
        )
        .await;
    assert!(
        no_password.message().contains("disabled"),
        "{no_password:?}"
    );
    set_option(&root, "PasswordRegisterEnabled", "true").await;
    assert_eq!(user_count(&pool).await, users + 2);

    // Without email verification the address is neither needed nor stored (as new-api).
    set_option(&root, "EmailVerificationEnabled", "false").await;
    let plain = anon
        .post(
            "/api/user/register",
            json!({"username": "plain", "password": PASSWORD, "email": "plain@example.com"}),
        )
        .await;
    assert!(plain.success(), "{plain:?}");
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE username = 'plain'")
        .fetch_one(&pool)
        .await
        .expect("plain");
    assert_eq!(email, "");
}
on_every_backend!(registration_input_refusals);

async fn mail_and_code_endpoints_are_rate_limited(backend: Backend) {
    let (pylon, _sink, _root) = pylon_with_mail(backend).await;
    let anon = Console::new(&pylon.base_url);

    // Per address: five mails an hour, whatever asks for them and whether or not it has an
    // account.
    let mut statuses = Vec::new();
    for path in [
        "/api/verification",
        "/api/reset_password",
        "/api/user/login/email",
    ] {
        for _ in 0..2 {
            statuses.push(
                anon.get(&format!("{path}?email=flood@example.com"))
                    .await
                    .status,
            );
        }
    }
    assert_eq!(&statuses[..5], &[StatusCode::OK; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);

    // Per client IP: twenty mails an hour in all (six asked above).
    for i in 0..14 {
        let answer = anon
            .get(&format!("/api/reset_password?email=user{i}@example.com"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let limited = anon
        .get("/api/reset_password?email=another@example.com")
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!limited.success());

    // Registration and reset: twenty requests per IP in twenty minutes.
    for path in ["/api/user/register", "/api/user/reset"] {
        for _ in 0..20 {
            let answer = anon.post_raw(path, "{").await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        }
        let limited = anon.post_raw(path, "{").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
}
on_every_backend!(mail_and_code_endpoints_are_rate_limited);
