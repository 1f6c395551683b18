//! Two-factor authentication end to end: setup and enable with codes computed here (totp-rs),
//! a password login that then owes a second factor (no session until it is given), codes that
//! work once (TOTP replay, single-use backup codes), the lock after repeated wrong codes, the
//! per-IP login budget, backup-code regeneration, disabling, and administrators' resets.

use pylon_tests::fixtures::{console_with_role, database, root_console};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use totp_rs::TOTP;

const PASSWORD: &str = pylon_tests::fixtures::ROOT_PASSWORD;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until at least 10 s remain in the current 30-second step, so that the codes of "this
/// step" and "the next step" computed below stay valid for the server during the test.
async fn fresh_window() {
    let into = now() % 30;
    if into > 20 {
        tokio::time::sleep(Duration::from_millis((30 - into) * 1000 + 300)).await;
    }
}

/// The code of the step `offset` steps away from the current one.
fn code_at(totp: &TOTP, offset: i64) -> String {
    totp.generate((now() as i64 + offset * 30) as u64)
}

/// A six-digit code that is none of the currently valid ones.
fn wrong_code(totp: &TOTP) -> String {
    let valid: Vec<String> = (-1..=1).map(|o| code_at(totp, o)).collect();
    ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| !valid.iter().any(|v| v == c))
        .unwrap()
        .to_string()
}

/// Sets up 2FA for `console`'s user; returns the authenticator and the backup codes.
async fn set_up(console: &Console) -> (TOTP, Vec<String>) {
    let setup = console.post("/api/user/2fa/setup", json!({})).await;
    assert!(setup.success(), "setup failed: {setup:?}");
    let uri = setup.data()["qr_code_data"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = TOTP::from_url(uri).unwrap();
    assert_eq!(
        totp.get_secret_base32(),
        setup.data()["secret"].as_str().unwrap()
    );
    let codes: Vec<String> = setup.data()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 4);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 9 && c.as_bytes()[4] == b'-')
    );
    (totp, codes)
}

/// Sets up and enables 2FA with the current code.
async fn enable(console: &Console) -> (TOTP, Vec<String>) {
    let (totp, codes) = set_up(console).await;
    let enabled = console
        .post("/api/user/2fa/enable", json!({ "code": code_at(&totp, 0) }))
        .await;
    assert!(enabled.success(), "enable failed: {enabled:?}");
    (totp, codes)
}

/// A fresh console that has given the right password of `username` and owes a code.
async fn pending_login(base_url: &str, username: &str, user_id: i64) -> Console {
    let mut console = Console::new(base_url);
    let answer = console
        .post(
            "/api/user/login",
            json!({ "username": username, "password": PASSWORD }),
        )
        .await;
    assert!(answer.success(), "password login failed: {answer:?}");
    assert_eq!(answer.data()["require_2fa"], json!(true), "{answer:?}");
    assert!(
        answer.data()["flow_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        answer.data()["id"].is_null(),
        "no user before the code: {answer:?}"
    );
    console.user_id = Some(user_id);
    assert_eq!(
        console.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED,
        "a session before the second factor"
    );
    console
}

async fn second_factor(console: &Console, code: &str) -> pylon_tests::client::Answer {
    console
        .post("/api/user/login/2fa", json!({ "code": code }))
        .await
}

async fn assert_signed_in(console: &Console, username: &str) {
    let me = console.get("/api/user/self").await;
    assert!(me.success(), "not signed in: {me:?}");
    assert_eq!(me.data()["username"], json!(username));
}

async fn status(console: &Console) -> Value {
    let answer = console.get("/api/user/2fa/status").await;
    assert!(answer.success(), "{answer:?}");
    answer.data().clone()
}

async fn totp_login_flow(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000")
        .start()
        .await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();

    assert_eq!(
        status(&alice).await,
        json!({ "enabled": false, "locked": false })
    );
    let early = alice
        .post("/api/user/2fa/enable", json!({ "code": "123456" }))
        .await;
    assert!(
        !early.success() && early.message().contains("set up"),
        "{early:?}"
    );

    // A second setup replaces the first pending one.
    let (stale, _) = set_up(&alice).await;
    let (totp, backup) = set_up(&alice).await;
    assert_ne!(stale.get_secret_base32(), totp.get_secret_base32());

    // Bad input changes nothing.
    for (body, expected) in [
        ("{not json", "Invalid parameters"),
        ("{}", "Invalid parameters"),
        (r#"{"code": 123456}"#, "Invalid parameters"),
        (r#"{"code": "12345"}"#, "6 digits"),
        (r#"{"code": "12a456"}"#, "numeric"),
    ] {
        let answer = alice.post_raw("/api/user/2fa/enable", body).await;
        assert!(!answer.success(), "{body}: {answer:?}");
        assert!(answer.message().contains(expected), "{body}: {answer:?}");
    }
    fresh_window().await;
    // Fixed now: replays below must replay exactly these, whatever the clock does meanwhile.
    let (this_step, next_step) = (code_at(&totp, 0), code_at(&totp, 1));
    let wrong = alice
        .post("/api/user/2fa/enable", json!({ "code": wrong_code(&totp) }))
        .await;
    assert!(!wrong.success(), "{wrong:?}");
    let stale_code = alice
        .post(
            "/api/user/2fa/enable",
            json!({ "code": code_at(&stale, 0) }),
        )
        .await;
    assert!(
        !stale_code.success(),
        "the replaced secret still works: {stale_code:?}"
    );
    assert_eq!(status(&alice).await["enabled"], json!(false));

    let enabled = alice
        .post("/api/user/2fa/enable", json!({ "code": this_step }))
        .await;
    assert!(enabled.success(), "{enabled:?}");
    let now_status = status(&alice).await;
    assert_eq!(now_status["enabled"], json!(true));
    assert_eq!(now_status["backup_codes_remaining"], json!(4));
    let again = alice.post("/api/user/2fa/setup", json!({})).await;
    assert!(!again.success(), "setup while enabled: {again:?}");

    // The password alone no longer signs in.
    let first = pending_login(&pylon.base_url, "alice", alice_id).await;
    let wrong = second_factor(&first, &wrong_code(&totp)).await;
    assert!(!wrong.success(), "{wrong:?}");
    assert_eq!(
        first.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    let missing = first.post("/api/user/login/2fa", json!({})).await;
    assert!(!missing.success(), "{missing:?}");
    let malformed = first.post_raw("/api/user/login/2fa", "{oops").await;
    assert!(
        malformed.message().contains("Invalid parameters"),
        "{malformed:?}"
    );
    // The code that enabled 2FA was used: it is refused as a replay.
    let replay = second_factor(&first, &this_step).await;
    assert!(!replay.success(), "replayed code accepted: {replay:?}");
    let right = second_factor(&first, &next_step).await;
    assert!(right.success(), "{right:?}");
    assert_eq!(right.data()["id"], json!(alice_id));
    assert_signed_in(&first, "alice").await;

    // The same code again, from another login: a replay.
    let second = pending_login(&pylon.base_url, "alice", alice_id).await;
    let replay = second_factor(&second, &next_step).await;
    assert!(!replay.success(), "replayed code accepted: {replay:?}");
    let by_backup = second_factor(&second, &backup[0]).await;
    assert!(by_backup.success(), "{by_backup:?}");
    assert_signed_in(&second, "alice").await;

    // A backup code works once; typed sloppily it still works.
    let third = pending_login(&pylon.base_url, "alice", alice_id).await;
    let reused = second_factor(&third, &backup[0]).await;
    assert!(!reused.success(), "backup code used twice: {reused:?}");
    let sloppy = backup[1].replace('-', "").to_lowercase();
    assert!(second_factor(&third, &sloppy).await.success());
    assert_signed_in(&third, "alice").await;

    // The flow token also works from the body (new-api's newer consoles), without the cookie.
    let token_holder = Console::new(&pylon.base_url);
    let login = token_holder
        .post(
            "/api/user/login",
            json!({ "username": "alice", "password": PASSWORD }),
        )
        .await;
    let token = login.data()["flow_token"].as_str().unwrap().to_string();
    let mut elsewhere = Console::new(&pylon.base_url);
    let bogus = elsewhere
        .post(
            "/api/user/login/2fa",
            json!({ "code": backup[2], "flow_token": "not-a-flow" }),
        )
        .await;
    assert!(bogus.message().contains("expired"), "{bogus:?}");
    let no_flow = second_factor(&elsewhere, &backup[2]).await;
    assert!(no_flow.message().contains("expired"), "{no_flow:?}");
    let by_token = elsewhere
        .post(
            "/api/user/login/2fa",
            json!({ "code": backup[2], "flow_token": token }),
        )
        .await;
    assert!(by_token.success(), "{by_token:?}");
    elsewhere.user_id = Some(alice_id);
    assert_signed_in(&elsewhere, "alice").await;
    // A finished flow cannot be finished again.
    let finished = token_holder
        .post(
            "/api/user/login/2fa",
            json!({ "code": backup[3], "flow_token": token }),
        )
        .await;
    assert!(finished.message().contains("expired"), "{finished:?}");
    assert_eq!(status(&alice).await["backup_codes_remaining"], json!(1));

    // Disabling needs a right code; bad input changes nothing.
    for body in ["{oops", "{}", r#"{"code": "ZZZZ-ZZZZ"}"#] {
        let answer = alice.post_raw("/api/user/2fa/disable", body).await;
        assert!(!answer.success(), "{body}: {answer:?}");
    }
    assert_eq!(status(&alice).await["enabled"], json!(true));
    let disabled = alice
        .post("/api/user/2fa/disable", json!({ "code": backup[3] }))
        .await;
    assert!(disabled.success(), "{disabled:?}");
    assert_eq!(status(&alice).await["enabled"], json!(false));
    let not_enabled = alice
        .post("/api/user/2fa/disable", json!({ "code": backup[3] }))
        .await;
    assert!(!not_enabled.success(), "{not_enabled:?}");

    // Back to a plain password login.
    let mut plain = Console::new(&pylon.base_url);
    let data = plain.login("alice", PASSWORD).await;
    assert_eq!(data["id"], json!(alice_id));
    assert_signed_in(&plain, "alice").await;
}
on_every_backend!(totp_login_flow);

async fn wrong_codes_lock_the_account(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000")
        .start()
        .await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    fresh_window().await;
    let (totp, backup) = enable(&alice).await;

    let pending = pending_login(&pylon.base_url, "alice", alice_id).await;
    for _ in 0..5 {
        let answer = second_factor(&pending, &wrong_code(&totp)).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.success(), "{answer:?}");
    }
    // Locked: even the right code is refused, and so is a backup code elsewhere.
    let locked = second_factor(&pending, &code_at(&totp, 1)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert_eq!(
        pending.get("/api/user/self").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(&alice).await["locked"], json!(true));
    let disable = alice
        .post("/api/user/2fa/disable", json!({ "code": backup[0] }))
        .await;
    assert_eq!(disable.status, StatusCode::TOO_MANY_REQUESTS, "{disable:?}");
    let after = status(&alice).await;
    assert_eq!(after["enabled"], json!(true));
    assert_eq!(after["backup_codes_remaining"], json!(4));
}
on_every_backend!(wrong_codes_lock_the_account);

async fn second_factor_attempts_count_against_the_ip(backend: Backend) {
    // Two logins to prepare (root, alice) and one password login leave three attempts.
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "6")
        .start()
        .await;
    let _root = root_console(&pylon).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    fresh_window().await;
    let (totp, _) = enable(&alice).await;
    let pending = pending_login(&pylon.base_url, "alice", alice_id).await;
    for _ in 0..3 {
        let answer = second_factor(&pending, &wrong_code(&totp)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
    let limited = second_factor(&pending, &code_at(&totp, 1)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{limited:?}");
    // The account itself is not locked (three failures): only the IP ran out.
    assert_eq!(status(&alice).await["locked"], json!(false));
}
on_every_backend!(second_factor_attempts_count_against_the_ip);

async fn delete(console: &Console, path: String) -> pylon_tests::client::Answer {
    console.send(Method::DELETE, &path, None).await
}

async fn manage_logs(pool: &sqlx::AnyPool, user_id: i64) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM logs WHERE type = 3 AND user_id = ? AND content LIKE '%two-factor%'",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn regeneration_and_admin_resets(backend: Backend) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let root_id = root.user_id.unwrap();
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let adam = console_with_role(&pylon, &pool, "adam", 10).await;
    let adam_id = adam.user_id.unwrap();

    fresh_window().await;
    let (totp, old_codes) = enable(&alice).await;
    let (_, _) = enable(&adam).await;

    // Regeneration takes an authenticator code only.
    let by_backup = alice
        .post(
            "/api/user/2fa/backup_codes",
            json!({ "code": old_codes[0] }),
        )
        .await;
    assert!(!by_backup.success(), "{by_backup:?}");
    let malformed = alice.post_raw("/api/user/2fa/backup_codes", "[1,2").await;
    assert!(
        malformed.message().contains("Invalid parameters"),
        "{malformed:?}"
    );
    let fresh = alice
        .post(
            "/api/user/2fa/backup_codes",
            json!({ "code": code_at(&totp, 1) }),
        )
        .await;
    assert!(fresh.success(), "{fresh:?}");
    let new_codes: Vec<String> = fresh.data()["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(new_codes.len(), 4);
    assert!(new_codes.iter().all(|c| !old_codes.contains(c)));
    let old = alice
        .post("/api/user/2fa/disable", json!({ "code": old_codes[1] }))
        .await;
    assert!(!old.success(), "an old backup code still works: {old:?}");
    assert_eq!(status(&alice).await["backup_codes_remaining"], json!(4));

    // Who may reset whom.
    let by_common = delete(&alice, format!("/api/user/{adam_id}/2fa")).await;
    assert!(!by_common.success(), "{by_common:?}");
    let admin_on_root = delete(&adam, format!("/api/user/{root_id}/2fa")).await;
    assert!(!admin_on_root.success(), "{admin_on_root:?}");
    let admin_on_self = delete(&adam, format!("/api/user/{adam_id}/2fa")).await;
    assert!(!admin_on_self.success(), "{admin_on_self:?}");
    for path in [
        "/api/user/abc/2fa",
        "/api/user/0/2fa",
        "/api/user/999999/2fa",
    ] {
        let answer = delete(&adam, path.to_string()).await;
        assert!(!answer.success(), "{path}: {answer:?}");
    }
    assert_eq!(status(&adam).await["enabled"], json!(true));
    assert_eq!(status(&alice).await["enabled"], json!(true));
    assert_eq!(manage_logs(&pool, alice_id).await, 0);

    let stats = root.get("/api/user/2fa/stats").await;
    assert!(stats.success(), "{stats:?}");
    assert_eq!(stats.data()["enabled_users"], json!(2));
    assert!(!alice.get("/api/user/2fa/stats").await.success());

    // An admin resets a common user; the user's sessions end.
    let reset = delete(&adam, format!("/api/user/{alice_id}/2fa")).await;
    assert!(reset.success(), "{reset:?}");
    assert_eq!(
        alice.get("/api/user/2fa/status").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut alice = Console::new(&pylon.base_url);
    alice.login("alice", PASSWORD).await;
    assert_eq!(status(&alice).await["enabled"], json!(false));
    let twice = delete(&adam, format!("/api/user/{alice_id}/2fa")).await;
    assert!(!twice.success(), "{twice:?}");
    assert_eq!(manage_logs(&pool, alice_id).await, 1);

    // Root resets an admin.
    let by_root = delete(&root, format!("/api/user/{adam_id}/2fa")).await;
    assert!(by_root.success(), "{by_root:?}");
    let mut adam = Console::new(&pylon.base_url);
    adam.login("adam", PASSWORD).await;
    assert_eq!(status(&adam).await["enabled"], json!(false));
    assert_eq!(manage_logs(&pool, adam_id).await, 1);
}
on_every_backend!(regeneration_and_admin_resets);
