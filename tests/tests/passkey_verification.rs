//! new-api's secure verification with a passkey, end to end with a software authenticator:
//! `POST /api/user/passkey/verify/begin` and `/finish` prove the signed-in user again, then
//! `POST /api/verify {"method": "passkey"}` turns that into the session's verification, which
//! opens the routes that require it (`POST /api/channel/{id}/key`). Refused and changing
//! nothing: a verify without a finished ceremony, a forged or replayed assertion, another
//! user's passkey, another session or an access token, a user without a passkey, bad bodies,
//! and the option switched off.

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{
    console_with_role, create_channel, database, openai_channel, root_console, set_option,
};
use pylon_tests::passkey_fixtures::{Lie, SoftAuthenticator, random_challenge};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = pylon_tests::fixtures::ROOT_PASSWORD;

/// Starts Pylon with passkeys enabled for RP ID `localhost`; returns it, root and the origin.
async fn start(backend: Backend) -> (Pylon, Console, String) {
    let pylon = Pylon::builder(backend)
        .env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "1000")
        .start()
        .await;
    let root = root_console(&pylon).await;
    let port = pylon.base_url.rsplit(':').next().unwrap().to_string();
    let origin = format!("http://localhost:{port}");
    set_option(&root, "passkey.enabled", "true").await;
    set_option(&root, "passkey.rp_id", "localhost").await;
    set_option(&root, "passkey.origins", &origin).await;
    (pylon, root, origin)
}

async fn register(console: &Console, authenticator: &mut SoftAuthenticator, origin: &str) {
    let begin = console
        .post("/api/user/passkey/register/begin", json!({}))
        .await;
    assert!(begin.success(), "register begin failed: {begin:?}");
    let credential = authenticator.register(&begin.data()["options"], origin);
    let finish = console
        .post("/api/user/passkey/register/finish", credential)
        .await;
    assert!(finish.success(), "register finish failed: {finish:?}");
}

/// The options of a verification ceremony begun on `console`.
async fn verify_options(console: &Console) -> Value {
    let begin = console
        .post("/api/user/passkey/verify/begin", json!({}))
        .await;
    assert!(begin.success(), "verify begin failed: {begin:?}");
    begin.data()["options"].clone()
}

async fn finish(console: &Console, assertion: &Value) -> Answer {
    console
        .post("/api/user/passkey/verify/finish", assertion.clone())
        .await
}

async fn verify_with_passkey(console: &Console) -> Answer {
    console
        .post("/api/verify", json!({"method": "passkey"}))
        .await
}

async fn read_channel_key(console: &Console, channel: i64) -> Answer {
    console
        .post(&format!("/api/channel/{channel}/key"), json!({}))
        .await
}

fn refused(answer: &Answer, context: &str) {
    assert!(!answer.success(), "{context}: {answer:?}");
    assert!(
        answer.body.get("data").is_none_or(Value::is_null),
        "{context}: {answer:?}"
    );
}

async fn passkey_opens_secure_verification(backend: Backend) {
    let (pylon, root, origin) = start(backend).await;
    let pool = database(&pylon).await;
    let channel = create_channel(
        &root,
        openai_channel("vault", "http://127.0.0.1:9", "gpt-4o"),
    )
    .await;

    // Without a passkey there is nothing to verify with.
    let none = root.post("/api/user/passkey/verify/begin", json!({})).await;
    refused(&none, "begin without a passkey");
    assert!(none.message().contains("passkey"), "{none:?}");
    refused(
        &verify_with_passkey(&root).await,
        "verify without a passkey",
    );

    let mut root_key = SoftAuthenticator::new();
    register(&root, &mut root_key, &origin).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let mut alice_key = SoftAuthenticator::new();
    register(&alice, &mut alice_key, &origin).await;

    // The key needs verification; a verify before any ceremony is refused.
    let view = read_channel_key(&root, channel).await;
    assert_eq!(view.status, StatusCode::FORBIDDEN, "{view:?}");
    assert_eq!(view.body["code"], json!("VERIFICATION_REQUIRED"));
    refused(
        &verify_with_passkey(&root).await,
        "verify before a ceremony",
    );
    let two_factor = root
        .post("/api/verify", json!({"method": "2fa", "code": "123456"}))
        .await;
    refused(&two_factor, "2fa without 2fa enabled");
    let unknown = root.post("/api/verify", json!({"method": "sms"})).await;
    refused(&unknown, "an unknown method");
    assert!(unknown.message().contains("sms"), "{unknown:?}");

    // The ceremony allows only the caller's own credentials.
    let options = verify_options(&root).await;
    let allowed: Vec<&str> = options["publicKey"]["allowCredentials"]
        .as_array()
        .expect("allowCredentials")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(allowed.len(), 1, "{options}");
    assert_eq!(
        allowed[0].trim_end_matches('='),
        root_key.credential_id_b64(),
        "{options}"
    );

    // Lies and another user's passkey are refused and mark nothing.
    let lies = [
        Lie {
            forge_signature: true,
            ..Lie::default()
        },
        Lie {
            challenge: Some(random_challenge()),
            ..Lie::default()
        },
        Lie {
            origin: Some("https://evil.example".into()),
            ..Lie::default()
        },
    ];
    for lie in &lies {
        let options = verify_options(&root).await;
        let answer = finish(&root, &root_key.login_lying(&options, &origin, lie)).await;
        refused(&answer, &format!("{lie:?}"));
        refused(&verify_with_passkey(&root).await, "verify after a lie");
    }
    let options = verify_options(&root).await;
    refused(
        &finish(&root, &alice_key.login(&options, &origin)).await,
        "alice's passkey for root",
    );
    refused(&verify_with_passkey(&root).await, "verify after alice's");
    let malformed = root
        .post_raw("/api/user/passkey/verify/finish", "{oops")
        .await;
    refused(&malformed, "malformed finish");
    assert!(malformed.message().contains("Invalid parameters"));
    let not_a_credential = root
        .post("/api/user/passkey/verify/finish", json!({"id": 5}))
        .await;
    refused(&not_a_credential, "not a credential");
    // An honest answer finishes the ceremony; the same answer again finds no challenge.
    let options = verify_options(&root).await;
    let assertion = root_key.login(&options, &origin);
    let first = finish(&root, &assertion).await;
    assert!(first.success(), "{first:?}");
    let replay = finish(&root, &assertion).await;
    refused(&replay, "a replayed assertion");
    assert_eq!(
        read_channel_key(&root, channel).await.status,
        StatusCode::FORBIDDEN,
        "a finished ceremony alone verifies nothing"
    );

    // Another session of root cannot use this session's ceremony.
    let mut other = Console::new(&pylon.base_url);
    other.login("root", PASSWORD).await;
    refused(&verify_with_passkey(&other).await, "another session");

    // This session turns its ceremony into a verification, once.
    let verified = verify_with_passkey(&root).await;
    assert!(verified.success(), "{verified:?}");
    assert_eq!(verified.data()["verified"], json!(true));
    assert!(verified.data()["expires_at"].as_i64().unwrap() > 0);
    let view = read_channel_key(&root, channel).await;
    assert!(view.success(), "{view:?}");
    assert_eq!(view.data()["key"], json!("upstream-key"));
    refused(&verify_with_passkey(&root).await, "the mark is used once");
    assert!(read_channel_key(&root, channel).await.success());
    assert_eq!(
        read_channel_key(&other, channel).await.status,
        StatusCode::FORBIDDEN
    );
    let used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM passkeys p JOIN users u ON u.id = p.user_id \
         WHERE u.username = 'root' AND p.last_used_at > 0",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(used, 1, "the ceremony records the passkey's use");

    // An access token has no session: refused before any ceremony.
    let token = root.get("/api/user/token").await;
    assert!(token.success(), "{token:?}");
    let mut by_token = Console::new(&pylon.base_url);
    by_token.bearer = Some(token.data().as_str().unwrap().to_string());
    by_token.user_id = root.user_id;
    for path in [
        "/api/user/passkey/verify/begin",
        "/api/user/passkey/verify/finish",
        "/api/verify",
    ] {
        let answer = by_token.post(path, json!({"method": "passkey"})).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {answer:?}"
        );
        refused(&answer, path);
    }
    let anonymous = Console::new(&pylon.base_url);
    for path in [
        "/api/user/passkey/verify/begin",
        "/api/user/passkey/verify/finish",
    ] {
        let answer = anonymous.post(path, json!({})).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{path}: {answer:?}"
        );
    }

    // A common user verifies with their own passkey, which opens no root route.
    let options = verify_options(&alice).await;
    assert!(
        finish(&alice, &alice_key.login(&options, &origin))
            .await
            .success()
    );
    let alice_verified = verify_with_passkey(&alice).await;
    assert!(alice_verified.success(), "{alice_verified:?}");
    refused(
        &read_channel_key(&alice, channel).await,
        "alice reads a key",
    );

    // Switched off: the ceremony is refused.
    set_option(&root, "passkey.enabled", "false").await;
    refused(
        &root.post("/api/user/passkey/verify/begin", json!({})).await,
        "switched off",
    );
}
on_every_backend!(passkey_opens_secure_verification);
