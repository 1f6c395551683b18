//! Passkeys end to end with a software authenticator: registration for a signed-in user,
//! listing, passwordless login (discoverable credential) that starts a real session, and the
//! refusals: a forged signature, a wrong challenge, another origin, a replayed assertion, a
//! credential registered twice, another user's passkey id, the option switched off, and
//! administrators' resets (never over an equal or higher role).

use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, set_option};
use pylon_tests::passkey_fixtures::{Lie, SoftAuthenticator, random_challenge};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::{Method, StatusCode};
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

/// Registers `authenticator`'s credential for `console`'s user; returns the finish answer.
async fn register(
    console: &Console,
    authenticator: &mut SoftAuthenticator,
    origin: &str,
    name: &str,
) -> Answer {
    let begin = console
        .post("/api/user/passkey/register/begin", json!({}))
        .await;
    assert!(begin.success(), "register begin failed: {begin:?}");
    let options = &begin.data()["options"];
    assert_eq!(options["publicKey"]["rp"]["id"], json!("localhost"));
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        json!("required")
    );
    let credential = authenticator.register(options, origin);
    console
        .post(
            "/api/user/passkey/register/finish",
            json!({ "credential": credential, "name": name }),
        )
        .await
}

/// Begins a passwordless login on `console`; returns the options.
async fn login_options(console: &Console) -> Value {
    let begin = console
        .post("/api/user/passkey/login/begin", json!({}))
        .await;
    assert!(begin.success(), "login begin failed: {begin:?}");
    let options = begin.data()["options"].clone();
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    options
}

async fn finish_login(console: &Console, assertion: &Value) -> Answer {
    console
        .post("/api/user/passkey/login/finish", assertion.clone())
        .await
}

async fn listed(console: &Console) -> Vec<Value> {
    let list = console.get("/api/user/passkeys").await;
    assert!(list.success(), "{list:?}");
    list.data().as_array().unwrap().clone()
}

async fn passkey_register_and_login(backend: Backend) {
    let (pylon, _root, origin) = start(backend).await;
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let bob = console_with_role(&pylon, &pool, "bob", 1).await;

    let none = alice.get("/api/user/passkey").await;
    assert_eq!(none.data()["enabled"], json!(false), "{none:?}");

    // Bad input to finish changes nothing (and needs a begin first).
    let no_begin = alice
        .post(
            "/api/user/passkey/register/finish",
            SoftAuthenticator::new().register(
                &json!({"publicKey": {"rp": {"id": "localhost"}, "user": {"id": "AAAA"},
                        "challenge": random_challenge()}}),
                &origin,
            ),
        )
        .await;
    assert!(!no_begin.success(), "{no_begin:?}");
    let malformed = alice
        .post_raw("/api/user/passkey/register/finish", "{oops")
        .await;
    assert!(
        malformed.message().contains("Invalid parameters"),
        "{malformed:?}"
    );
    let not_a_credential = alice
        .post("/api/user/passkey/register/finish", json!({ "id": 5 }))
        .await;
    assert!(not_a_credential.message().contains("Invalid parameters"));
    assert!(listed(&alice).await.is_empty());

    // A registration answered from another origin is refused.
    let mut phone = SoftAuthenticator::new();
    let begin = alice
        .post("/api/user/passkey/register/begin", json!({}))
        .await;
    let lie = Lie {
        origin: Some("https://evil.example".into()),
        ..Lie::default()
    };
    let evil = alice
        .post(
            "/api/user/passkey/register/finish",
            phone.register_lying(&begin.data()["options"], &origin, &lie),
        )
        .await;
    assert!(!evil.success(), "{evil:?}");
    assert!(listed(&alice).await.is_empty());

    // Register, list, status.
    let registered = register(&alice, &mut phone, &origin, "Phone").await;
    assert!(registered.success(), "{registered:?}");
    let passkey_id = registered.data()["id"].as_i64().unwrap();
    let list = listed(&alice).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], json!(passkey_id));
    assert_eq!(list[0]["name"], json!("Phone"));
    assert_eq!(list[0]["credential_id"], json!(phone.credential_id_b64()));
    let status = alice.get("/api/user/passkey").await;
    assert_eq!(status.data()["enabled"], json!(true), "{status:?}");
    assert!(listed(&bob).await.is_empty());

    // The same credential cannot be registered again (by anyone).
    let twice = register(&alice, &mut phone, &origin, "Again").await;
    assert!(!twice.success(), "{twice:?}");
    let by_bob = register(&bob, &mut phone, &origin, "Stolen").await;
    assert!(!by_bob.success(), "{by_bob:?}");
    assert_eq!(listed(&alice).await.len(), 1);
    assert!(listed(&bob).await.is_empty());

    // Passwordless login.
    let mut visitor = Console::new(&pylon.base_url);
    let options = login_options(&visitor).await;
    let assertion = phone.login(&options, &origin);
    let signed_in = finish_login(&visitor, &assertion).await;
    assert!(signed_in.success(), "{signed_in:?}");
    assert_eq!(signed_in.data()["id"], json!(alice_id));
    visitor.user_id = Some(alice_id);
    let me = visitor.get("/api/user/self").await;
    assert!(me.success(), "{me:?}");
    assert_eq!(me.data()["username"], json!("alice"));
    let used = listed(&alice).await;
    assert!(used[0]["last_used_at"].as_i64().unwrap() > 0);

    // The same assertion again: the challenge was used.
    let replay = finish_login(&visitor, &assertion).await;
    assert!(!replay.success(), "{replay:?}");
    let other = Console::new(&pylon.base_url);
    login_options(&other).await;
    let replay = finish_login(&other, &assertion).await;
    assert!(!replay.success(), "{replay:?}");

    // Lies are refused and start no session.
    for lie in [
        Lie {
            forge_signature: true,
            ..Lie::default()
        },
        Lie {
            challenge: Some(random_challenge()),
            ..Lie::default()
        },
        Lie {
            origin: Some("http://localhost:1".into()),
            ..Lie::default()
        },
        Lie {
            origin: Some("https://evil.example".into()),
            ..Lie::default()
        },
    ] {
        let mut liar = Console::new(&pylon.base_url);
        let options = login_options(&liar).await;
        let refused = finish_login(&liar, &phone.login_lying(&options, &origin, &lie)).await;
        assert!(!refused.success(), "{lie:?} accepted: {refused:?}");
        liar.user_id = Some(alice_id);
        assert_eq!(
            liar.get("/api/user/self").await.status,
            StatusCode::UNAUTHORIZED,
            "{lie:?}"
        );
    }
    // An unknown credential, malformed bodies, and no begin at all.
    let stranger = Console::new(&pylon.base_url);
    let options = login_options(&stranger).await;
    let unknown = finish_login(
        &stranger,
        &SoftAuthenticator::new().login(&options, &origin),
    )
    .await;
    assert!(!unknown.success(), "{unknown:?}");
    let malformed = stranger
        .post_raw("/api/user/passkey/login/finish", "{oops")
        .await;
    assert!(
        malformed.message().contains("Invalid parameters"),
        "{malformed:?}"
    );
    let fresh = Console::new(&pylon.base_url);
    let options = login_options(&stranger).await;
    let without_begin = finish_login(&fresh, &phone.login(&options, &origin)).await;
    assert!(!without_begin.success(), "{without_begin:?}");

    // Another user's passkey id: not found, nothing deleted.
    for path in [
        format!("/api/user/passkey/{passkey_id}"),
        format!("/api/user/passkeys/{passkey_id}"),
        "/api/user/passkey/abc".to_string(),
    ] {
        let answer = bob.send(Method::DELETE, &path, None).await;
        assert!(!answer.success(), "{path}: {answer:?}");
    }
    assert_eq!(listed(&alice).await.len(), 1);

    // Deleted: the passkey no longer logs in.
    let deleted = alice
        .send(
            Method::DELETE,
            &format!("/api/user/passkey/{passkey_id}"),
            None,
        )
        .await;
    assert!(deleted.success(), "{deleted:?}");
    assert!(listed(&alice).await.is_empty());
    let after = Console::new(&pylon.base_url);
    let options = login_options(&after).await;
    let refused = finish_login(&after, &phone.login(&options, &origin)).await;
    assert!(!refused.success(), "{refused:?}");
}
on_every_backend!(passkey_register_and_login);

async fn reset(console: &Console, id: i64) -> Answer {
    console
        .send(
            Method::DELETE,
            &format!("/api/user/{id}/reset_passkey"),
            None,
        )
        .await
}

async fn passkey_switch_and_admin_resets(backend: Backend) {
    let (pylon, root, origin) = start(backend).await;
    let root_id = root.user_id.unwrap();
    let pool = database(&pylon).await;
    let alice = console_with_role(&pylon, &pool, "alice", 1).await;
    let alice_id = alice.user_id.unwrap();
    let adam = console_with_role(&pylon, &pool, "adam", 10).await;
    let adam_id = adam.user_id.unwrap();

    let mut alice_key = SoftAuthenticator::new();
    let mut alice_spare = SoftAuthenticator::new();
    let mut adam_key = SoftAuthenticator::new();
    let mut root_key = SoftAuthenticator::new();
    for (console, key) in [
        (&alice, &mut alice_key),
        (&alice, &mut alice_spare),
        (&adam, &mut adam_key),
        (&root, &mut root_key),
    ] {
        let answer = register(console, key, &origin, "").await;
        assert!(answer.success(), "{answer:?}");
        assert_eq!(answer.data()["name"], json!("Passkey"));
    }
    assert_eq!(listed(&alice).await.len(), 2);

    // A common user cannot reset anyone; an admin cannot reset an admin or root.
    assert!(!reset(&alice, adam_id).await.success());
    assert!(!reset(&adam, root_id).await.success());
    assert!(!reset(&adam, adam_id).await.success());
    let bad = adam
        .send(Method::DELETE, "/api/user/nope/reset_passkey", None)
        .await;
    assert!(!bad.success(), "{bad:?}");
    assert_eq!(listed(&adam).await.len(), 1);
    assert_eq!(listed(&root).await.len(), 1);

    let by_admin = reset(&adam, alice_id).await;
    assert!(by_admin.success(), "{by_admin:?}");
    assert!(listed(&alice).await.is_empty());
    assert!(
        !reset(&adam, alice_id).await.success(),
        "nothing left to reset"
    );
    let by_root = reset(&root, adam_id).await;
    assert!(by_root.success(), "{by_root:?}");
    assert!(listed(&adam).await.is_empty());
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM logs WHERE type = 3 AND user_id IN (?, ?) AND content LIKE '%passkey%'",
    )
    .bind(alice_id)
    .bind(adam_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audit, 2);

    // The reset passkey no longer logs in; root's still does.
    let visitor = Console::new(&pylon.base_url);
    let options = login_options(&visitor).await;
    assert!(
        !finish_login(&visitor, &alice_key.login(&options, &origin))
            .await
            .success()
    );
    let mut visitor = Console::new(&pylon.base_url);
    let options = login_options(&visitor).await;
    let root_login = finish_login(&visitor, &root_key.login(&options, &origin)).await;
    assert!(root_login.success(), "{root_login:?}");
    visitor.user_id = Some(root_id);
    assert!(visitor.get("/api/user/self").await.success());

    // Deleting all of one's passkeys (new-api's DELETE /api/user/passkey).
    let all = root.send(Method::DELETE, "/api/user/passkey", None).await;
    assert!(all.success(), "{all:?}");
    assert!(listed(&root).await.is_empty());

    // Switched off: ceremonies are refused; a password login still works.
    set_option(&root, "passkey.enabled", "false").await;
    let status = Console::new(&pylon.base_url).get("/api/status").await;
    assert_eq!(status.data()["passkey_login"], json!(false));
    let begin = Console::new(&pylon.base_url)
        .post("/api/user/passkey/login/begin", json!({}))
        .await;
    assert!(!begin.success(), "{begin:?}");
    let register_begin = alice
        .post("/api/user/passkey/register/begin", json!({}))
        .await;
    assert!(!register_begin.success(), "{register_begin:?}");
    let mut plain = Console::new(&pylon.base_url);
    plain.login("alice", PASSWORD).await;

    // An insecure origin other than localhost is refused unless allowed.
    set_option(&root, "passkey.enabled", "true").await;
    set_option(&root, "passkey.rp_id", "pylon.example").await;
    set_option(&root, "passkey.origins", "http://pylon.example").await;
    let insecure = Console::new(&pylon.base_url)
        .post("/api/user/passkey/login/begin", json!({}))
        .await;
    assert!(!insecure.success(), "{insecure:?}");
    assert!(insecure.message().contains("insecure"), "{insecure:?}");
    set_option(&root, "passkey.allow_insecure_origin", "true").await;
    let allowed = Console::new(&pylon.base_url)
        .post("/api/user/passkey/login/begin", json!({}))
        .await;
    assert!(allowed.success(), "{allowed:?}");
}
on_every_backend!(passkey_switch_and_admin_resets);
