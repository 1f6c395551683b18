//! Sign-ups through external providers credited to an inviter, as new-api does when the console
//! starts the flow with `GET /api/oauth/state?aff=<code>`: the new user records its inviter and
//! gets `QuotaForInvitee` on top of `QuotaForNewUser`, the inviter gets one more `aff_count`
//! and `QuotaForInviter` of invitation quota, each once, as for a password registration. An
//! unknown code credits nobody; signing in again credits nothing. Checked for a built-in
//! provider (GitHub) and a custom OAuth provider, on SQLite and on MySQL + Redis.

use pylon_tests::client::Console;
use pylon_tests::fixtures::{scalar_of, set_option};
use pylon_tests::oidc_provider::Subject;
use pylon_tests::social_fixtures::{self, path};
use pylon_tests::social_providers::{Site, SocialUser};
use pylon_tests::{Backend, custom_oauth_fixtures, on_every_backend};
use serde_json::json;
use sqlx::AnyPool;

const PASSWORD: &str = "inviter-password-1";

/// Sets the sign-up bonuses and creates the inviter; answers its id and invitation code.
async fn inviter(root: &Console, base_url: &str) -> (i64, String) {
    for (key, value) in [
        ("QuotaForNewUser", "100"),
        ("QuotaForInviter", "700"),
        ("QuotaForInvitee", "300"),
    ] {
        set_option(root, key, value).await;
    }
    let created = root
        .post(
            "/api/user/",
            json!({"username": "alice", "password": PASSWORD, "role": 1}),
        )
        .await;
    assert!(created.success(), "{created:?}");
    let id = created.data()["id"].as_i64().expect("id");
    let mut alice = Console::new(base_url);
    alice.login("alice", PASSWORD).await;
    let aff = alice.get("/api/user/aff").await;
    assert!(aff.success(), "{aff:?}");
    (id, aff.data().as_str().expect("code").to_string())
}

/// A fresh browser's state, started with `aff`.
async fn state_with(console: &Console, aff: &str) -> String {
    let answer = console.get(&format!("/api/oauth/state?aff={aff}")).await;
    assert!(answer.success(), "{answer:?}");
    answer.data().as_str().expect("state").to_string()
}

/// (inviter_id, quota) of user `id`.
async fn credited(pool: &AnyPool, id: i64) -> (i64, i64) {
    (
        scalar_of(pool, "SELECT inviter_id FROM users WHERE id = ?", id).await,
        scalar_of(pool, "SELECT quota FROM users WHERE id = ?", id).await,
    )
}

/// (aff_count, aff_quota) of the inviter.
async fn rewarded(pool: &AnyPool, id: i64) -> (i64, i64) {
    (
        scalar_of(pool, "SELECT aff_count FROM users WHERE id = ?", id).await,
        scalar_of(pool, "SELECT aff_quota FROM users WHERE id = ?", id).await,
    )
}

async fn builtin_sign_ups_credit_the_inviter(backend: Backend) {
    let scene = social_fixtures::Scene::start(backend).await;
    scene.switch("GitHubOAuthEnabled", true).await;
    let (alice, code) = inviter(&scene.root, &scene.pylon.base_url).await;

    let sign_up = |aff: String, user: SocialUser| {
        let scene = &scene;
        async move {
            let console = scene.console();
            let state = state_with(&console, &aff).await;
            let code = scene.mock.code(Site::GitHub, &user);
            let answer = console
                .get(&format!("{}?code={code}&state={state}", path(Site::GitHub)))
                .await;
            assert!(answer.success(), "{answer:?}");
            answer.data()["id"].as_i64().expect("id")
        }
    };
    let octo = SocialUser::named(201, "octo");
    let invited = sign_up(code.clone(), octo.clone()).await;
    assert_eq!(credited(&scene.pool, invited).await, (alice, 400));
    assert_eq!(rewarded(&scene.pool, alice).await, (1, 700));

    // Signing in again is no new sign-up: nothing more is credited.
    let again = sign_up(code.clone(), octo).await;
    assert_eq!(again, invited);
    assert_eq!(credited(&scene.pool, invited).await, (alice, 400));
    assert_eq!(rewarded(&scene.pool, alice).await, (1, 700));

    // A code that names nobody: an ordinary sign-up.
    let stranger = sign_up("ZZZZ".into(), SocialUser::named(202, "stranger")).await;
    assert_eq!(credited(&scene.pool, stranger).await, (0, 100));
    assert_eq!(rewarded(&scene.pool, alice).await, (1, 700));
}

async fn custom_provider_sign_ups_credit_the_inviter(backend: Backend) {
    let scene = custom_oauth_fixtures::Scene::start(backend).await;
    scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    let (alice, code) = inviter(&scene.root, &scene.pylon.base_url).await;

    let sign_up = |aff: String, subject: &str| {
        let scene = &scene;
        let subject = Subject::named(subject);
        async move {
            scene.idp.set_subject(subject);
            let console = scene.console();
            let state = state_with(&console, &aff).await;
            let redirect = scene
                .idp
                .authorize(&scene.authorization_url("corp", &state))
                .await;
            let answer = console
                .get(&format!("/api/oauth/corp{}", redirect.query()))
                .await;
            assert!(answer.success(), "{answer:?}");
            answer.data()["id"].as_i64().expect("id")
        }
    };
    let invited = sign_up(code.clone(), "dana").await;
    assert_eq!(credited(&scene.pool, invited).await, (alice, 400));
    assert_eq!(rewarded(&scene.pool, alice).await, (1, 700));
    let stranger = sign_up("ZZZZ".into(), "erin").await;
    assert_eq!(credited(&scene.pool, stranger).await, (0, 100));
    assert_eq!(rewarded(&scene.pool, alice).await, (1, 700));
    // The bonuses are in the ledger's log as a password registration writes them.
    assert_eq!(
        scalar_of(
            &scene.pool,
            "SELECT COUNT(*) FROM logs WHERE user_id = ? AND content LIKE 'Invite code bonus%'",
            invited,
        )
        .await,
        1
    );
}

on_every_backend!(builtin_sign_ups_credit_the_inviter);
on_every_backend!(custom_provider_sign_ups_credit_the_inviter);
