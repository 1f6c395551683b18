//! OIDC sign-in and account binding against a mock provider: the authorization code flow with
//! PKCE, as a new-api console drives it (`/api/oauth/oidc/start` or `/api/oauth/state`, the
//! provider, then `/api/oauth/oidc?code=&state=`) and as a plain browser does (`/auth/login`
//! to `/auth/callback`). Every refused flow changes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_tests::client::Answer;
use pylon_tests::fixtures::{console_with_role, database, root_console, set_option};
use pylon_tests::oidc_provider::{MockOidc, Subject};
use pylon_tests::{Backend, Console, Pylon, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

const CLIENT_ID: &str = "pylon-client";
const CLIENT_SECRET: &str = "pylon-client-secret";

/// A Pylon whose OIDC options point at a mock provider.
struct Scene {
    pylon: Pylon,
    root: Console,
    idp: MockOidc,
    pool: sqlx::AnyPool,
}

impl Scene {
    /// Pylon (with a generous per-IP budget) and a provider set up through the option API:
    /// explicit endpoints, or only the discovery document when `discovery`.
    async fn start(backend: Backend, discovery: bool) -> Self {
        Self::start_with(
            Pylon::builder(backend).env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "500"),
            discovery,
        )
        .await
    }

    async fn start_with(builder: pylon_tests::PylonBuilder, discovery: bool) -> Self {
        let pylon = builder.start().await;
        let root = root_console(&pylon).await;
        let idp = MockOidc::start(CLIENT_ID, CLIENT_SECRET).await;
        idp.set_behaviour(|b| b.require_pkce = true);
        for (key, value) in [
            ("oidc.enabled", "true".to_string()),
            ("oidc.client_id", CLIENT_ID.to_string()),
            ("oidc.client_secret", CLIENT_SECRET.to_string()),
            ("ServerAddress", pylon.base_url.clone()),
        ] {
            set_option(&root, key, &value).await;
        }
        if discovery {
            set_option(&root, "oidc.well_known", &idp.well_known_url()).await;
        } else {
            set_option(
                &root,
                "oidc.authorization_endpoint",
                &idp.authorization_endpoint(),
            )
            .await;
            set_option(&root, "oidc.token_endpoint", &idp.token_endpoint()).await;
            set_option(&root, "oidc.user_info_endpoint", &idp.userinfo_endpoint()).await;
        }
        let pool = database(&pylon).await;
        Self {
            pylon,
            root,
            idp,
            pool,
        }
    }

    fn console(&self) -> Console {
        Console::new(&self.pylon.base_url)
    }

    /// Starts a flow in `console` (a sign-in, or a binding when it is signed in), lets the
    /// provider sign its current subject in, and returns the callback's answer.
    async fn flow(&self, console: &Console) -> Answer {
        let url = self.start_url(console).await;
        let redirect = self.idp.authorize(&url).await;
        console
            .get(&format!("/api/oauth/oidc{}", redirect.query()))
            .await
    }

    /// The authorization URL of a new flow in `console`.
    async fn start_url(&self, console: &Console) -> String {
        let started = console.get("/api/oauth/oidc/start").await;
        assert!(started.success(), "start failed: {started:?}");
        started.data()["url"].as_str().expect("url").to_string()
    }

    /// A whole sign-in in a fresh console; asserts success and returns the signed-in console.
    async fn sign_in(&self) -> (Console, Answer) {
        let mut console = self.console();
        let answer = self.flow(&console).await;
        assert!(answer.success(), "OIDC sign-in failed: {answer:?}");
        console.user_id = answer.data()["id"].as_i64();
        (console, answer)
    }

    /// The callback `/api/oauth/oidc{query}` from a client that holds only the state cookie
    /// of `state`.
    async fn with_state_cookie(&self, state: &str, query: &str) -> Answer {
        let response = reqwest::Client::new()
            .get(format!("{}/api/oauth/oidc{query}", self.pylon.base_url))
            .header(reqwest::header::COOKIE, format!("oidc_state={state}"))
            .send()
            .await
            .expect("callback reachable");
        let status = response.status();
        let body = response.json().await.unwrap_or_default();
        Answer { status, body }
    }

    async fn count(&self, sql: &'static str, bind: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(bind.to_string())
            .fetch_one(&self.pool)
            .await
            .expect(sql)
    }

    async fn users(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM users WHERE username <> ?", "")
            .await
    }

    async fn sessions(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM sessions WHERE id <> ?", "")
            .await
    }

    async fn holders_of(&self, sub: &str) -> i64 {
        self.count("SELECT COUNT(*) FROM users WHERE oidc_id = ?", sub)
            .await
    }
}

/// Asserts a refused flow: HTTP 200, `success: false`, a message containing `expected`.
fn assert_refused(answer: &Answer, expected: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(!answer.success(), "should be refused: {answer:?}");
    assert!(
        answer.message().contains(expected),
        "message should contain {expected:?}: {answer:?}"
    );
}

async fn login_creates_the_user_then_finds_it(backend: Backend) {
    let scene = Scene::start(backend, false).await;
    set_option(&scene.root, "QuotaForNewUser", "12345").await;
    let before = scene.users().await;

    let (console, answer) = scene.sign_in().await;
    let data = answer.data();
    assert_eq!(data["username"], json!("alice"));
    assert_eq!(data["display_name"], json!("alice (IdP)"));
    assert_eq!(data["role"], json!(1));
    assert_eq!(data["status"], json!(1));
    let id = data["id"].as_i64().expect("id");
    assert_eq!(scene.users().await, before + 1);

    // The authorization request was a proper code flow with PKCE (S256) and a nonce, and the
    // verifier Pylon redeemed the code with matches the challenge.
    let authorizations = scene.idp.authorizations();
    let sent = authorizations.last().expect("an authorization request");
    assert_eq!(sent.response_type, "code");
    assert_eq!(sent.client_id, CLIENT_ID);
    assert_eq!(sent.scope, "openid profile email");
    assert_eq!(
        sent.redirect_uri,
        format!("{}/oauth/oidc", scene.pylon.base_url)
    );
    assert_eq!(sent.code_challenge_method.as_deref(), Some("S256"));
    assert!(sent.nonce.as_deref().is_some_and(|n| n.len() >= 16));
    let redeemed = scene.idp.token_requests();
    let verifier = redeemed
        .last()
        .and_then(|f| f.get("code_verifier"))
        .expect("verifier");
    assert!(verifier.len() >= 43);
    assert_eq!(
        sent.code_challenge.as_deref(),
        Some(
            URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                .as_str()
        )
    );

    // The session works like a password login's.
    let me = console.get("/api/user/self").await;
    assert!(me.success(), "{me:?}");
    assert_eq!(me.data()["id"], json!(id));
    assert_eq!(me.data()["oidc_id"], json!("sub-alice"));
    assert_eq!(me.data()["email"], json!("alice@idp.example"));
    assert_eq!(me.data()["quota"], json!(12345));
    assert_eq!(me.data()["role"], json!(1));

    // Signing in again finds the same user.
    let (_, again) = scene.sign_in().await;
    assert_eq!(again.data()["id"], json!(id));
    assert_eq!(scene.users().await, before + 1);
    assert_eq!(scene.holders_of("sub-alice").await, 1);

    // A taken username is made unique; without preferred_username the email's local part
    // names the user.
    scene.idp.set_subject(Subject {
        sub: "sub-other-root".into(),
        email: String::new(),
        preferred_username: "root".into(),
        name: String::new(),
    });
    let (_, clash) = scene.sign_in().await;
    let name = clash.data()["username"].as_str().expect("username");
    assert!(name.starts_with("root_") && name.len() <= 20, "{name}");
    scene.idp.set_subject(Subject {
        sub: "sub-grace".into(),
        email: "grace.h@idp.example".into(),
        preferred_username: String::new(),
        name: "Grace".into(),
    });
    let (_, grace) = scene.sign_in().await;
    assert_eq!(grace.data()["username"], json!("grace.h"));
    assert_eq!(grace.data()["display_name"], json!("Grace"));
    assert_eq!(scene.users().await, before + 3);
}
on_every_backend!(login_creates_the_user_then_finds_it);

async fn binding_a_password_user(backend: Backend) {
    let scene = Scene::start(backend, false).await;
    let bob = console_with_role(&scene.pylon, &scene.pool, "bob", 1).await;
    let carol = console_with_role(&scene.pylon, &scene.pool, "carol", 1).await;
    let bob_id = bob.user_id.expect("bob's id");

    // Signed in, the console's flow binds instead of signing in (new-api's "bind" answer).
    scene.idp.set_subject(Subject::named("bob-at-idp"));
    let users = scene.users().await;
    let bound = scene.flow(&bob).await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(bound.message(), "bind");
    assert_eq!(
        bob.get("/api/user/self").await.data()["oidc_id"],
        json!("sub-bob-at-idp")
    );
    assert_eq!(scene.users().await, users);

    // Now OIDC signs in as bob.
    let (as_bob, answer) = scene.sign_in().await;
    assert_eq!(answer.data()["id"], json!(bob_id));
    assert_eq!(answer.data()["username"], json!("bob"));
    assert_eq!(
        as_bob.get("/api/user/self").await.data()["username"],
        json!("bob")
    );
    assert_eq!(scene.users().await, users);

    // Carol cannot take bob's subject (seed 001's bind URL, back through /auth/callback).
    let started = carol.post("/api/user/oidc/bind-url", json!({})).await;
    assert!(started.success(), "{started:?}");
    let url = started.data()["url"].as_str().expect("url");
    let redirect = scene.idp.authorize(url).await;
    assert!(
        redirect
            .location
            .starts_with(&format!("{}/auth/callback?", scene.pylon.base_url)),
        "{redirect:?}"
    );
    let refused = carol
        .get(&format!("/auth/callback{}", redirect.query()))
        .await;
    assert_refused(&refused, "already bound to another user");
    assert_eq!(
        carol.get("/api/user/self").await.data()["oidc_id"],
        json!("")
    );
    assert_eq!(scene.holders_of("sub-bob-at-idp").await, 1);

    // Her own provider account binds.
    scene.idp.set_subject(Subject::named("carol-at-idp"));
    let started = carol.post("/api/user/oidc/bind-url", json!({})).await;
    let redirect = scene
        .idp
        .authorize(started.data()["url"].as_str().expect("url"))
        .await;
    let bound = carol
        .get(&format!("/auth/callback{}", redirect.query()))
        .await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(
        carol.get("/api/user/self").await.data()["oidc_id"],
        json!("sub-carol-at-idp")
    );

    // Binding needs a signed-in caller.
    let anonymous = scene
        .console()
        .post("/api/user/oidc/bind-url", json!({}))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(!anonymous.success());
}
on_every_backend!(binding_a_password_user);

async fn states_are_single_use_and_tied_to_the_browser(backend: Backend) {
    let scene = Scene::start(backend, false).await;
    let users = scene.users().await;
    let console = scene.console();
    let url = scene.start_url(&console).await;
    let redirect = scene.idp.authorize(&url).await;
    let code = redirect.code.clone().expect("code");
    let state = redirect.state.clone().expect("state");

    // A wrong, missing or malformed state is refused, and spends nothing.
    let sessions = scene.sessions().await;
    for query in [
        format!("?code={code}&state={}", "A".repeat(32)),
        format!("?code={code}"),
        format!("?code={code}&state=short"),
        format!("?code={code}&state={state}x"),
    ] {
        let refused = console.get(&format!("/api/oauth/oidc{query}")).await;
        assert_refused(&refused, "state");
    }
    // The right state from another browser (no state cookie) is refused too.
    let elsewhere = scene
        .console()
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert_refused(&elsewhere, "does not belong to this browser");
    assert_eq!(scene.users().await, users);
    assert_eq!(scene.sessions().await, sessions);

    // The genuine callback still works, once.
    let signed_in = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert!(signed_in.success(), "{signed_in:?}");
    assert_eq!(scene.users().await, users + 1);
    let sessions = scene.sessions().await;
    let replayed = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert_refused(&replayed, "state");
    // Even with the state cookie put back, a redeemed state stays spent.
    let replayed = scene.with_state_cookie(&state, &redirect.query()).await;
    assert_refused(&replayed, "invalid or expired");
    assert_eq!(scene.sessions().await, sessions);

    // Concurrent redemptions of one state: exactly one gets through (across nodes, the
    // shared cache decides).
    let url = scene.start_url(&console).await;
    let redirect = scene.idp.authorize(&url).await;
    let state = redirect.state.clone().expect("state");
    let query = redirect.query();
    let answers =
        futures::future::join_all((0..5).map(|_| scene.with_state_cookie(&state, &query))).await;
    let winners = answers.iter().filter(|a| a.success()).count();
    assert_eq!(winners, 1, "{answers:?}");
    for loser in answers.iter().filter(|a| !a.success()) {
        assert_refused(loser, "invalid or expired");
    }
    let sessions = scene.sessions().await;

    // A code whose challenge is not the one Pylon made fails the provider's PKCE check: the
    // error is shown and nobody is signed in.
    scene.idp.set_subject(Subject::named("mallory"));
    let url = scene.start_url(&console).await;
    let forged = URL_SAFE_NO_PAD.encode(Sha256::digest(b"a verifier Pylon does not hold"));
    let mut tampered = url::Url::parse(&url).expect("url");
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "code_challenge" {
                forged.clone()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    let redirect = scene.idp.authorize(tampered.as_str()).await;
    let refused = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert_refused(&refused, "PKCE verification failed");
    assert_eq!(scene.holders_of("sub-mallory").await, 0);
    assert_eq!(scene.sessions().await, sessions);
}
on_every_backend!(states_are_single_use_and_tied_to_the_browser);

async fn provider_failures_change_nothing(backend: Backend) {
    let scene = Scene::start(backend, false).await;
    let users = scene.users().await;
    let sessions = scene.sessions().await;
    let console = scene.console();

    // The user refuses at the provider: it comes back with error=.
    scene.idp.set_behaviour(|b| b.deny = true);
    assert_refused(&scene.flow(&console).await, "The user denied the request");
    scene.idp.set_behaviour(|b| b.deny = false);

    // The token endpoint fails.
    scene.idp.set_behaviour(|b| b.token_status = Some(400));
    assert_refused(
        &scene.flow(&console).await,
        "OIDC token request failed: Injected token endpoint failure",
    );
    scene.idp.set_behaviour(|b| b.token_status = None);

    // A wrong client secret.
    set_option(&scene.root, "oidc.client_secret", "not-the-secret").await;
    assert_refused(&scene.flow(&console).await, "Client authentication failed");
    set_option(&scene.root, "oidc.client_secret", CLIENT_SECRET).await;

    // The user info endpoint fails.
    scene.idp.set_behaviour(|b| b.userinfo_status = Some(500));
    assert_refused(&scene.flow(&console).await, "Failed to get user info");
    scene.idp.set_behaviour(|b| b.userinfo_status = None);

    // The token endpoint does not answer in time.
    scene
        .idp
        .set_behaviour(|b| b.token_delay = Some(Duration::from_secs(7)));
    assert_refused(&scene.flow(&console).await, "timed out");
    scene.idp.set_behaviour(|b| b.token_delay = None);

    // An unreachable provider.
    set_option(
        &scene.root,
        "oidc.token_endpoint",
        "http://127.0.0.1:9/token",
    )
    .await;
    assert_refused(
        &scene.flow(&console).await,
        "Cannot connect to the OIDC server",
    );
    set_option(
        &scene.root,
        "oidc.token_endpoint",
        &scene.idp.token_endpoint(),
    )
    .await;

    assert_eq!(scene.users().await, users);
    assert_eq!(scene.sessions().await, sessions);
    assert_eq!(scene.holders_of("sub-alice").await, 0);

    // Everything back in order, the same flow works.
    let (_, answer) = scene.sign_in().await;
    assert_eq!(answer.data()["username"], json!("alice"));
}
on_every_backend!(provider_failures_change_nothing);

async fn switches_and_bans_refuse(backend: Backend) {
    let scene = Scene::start(backend, false).await;
    let (_, alice) = scene.sign_in().await;
    let alice_id = alice.data()["id"].as_i64().expect("id");

    // OIDC off: nothing starts, and a callback is refused without spending its state.
    let console = scene.console();
    let url = scene.start_url(&console).await;
    let redirect = scene.idp.authorize(&url).await;
    set_option(&scene.root, "oidc.enabled", "false").await;
    assert_refused(
        &console.get("/api/oauth/oidc/start").await,
        "has not enabled login and registration via OIDC",
    );
    assert_refused(
        &console.get("/auth/login").await,
        "has not enabled login and registration via OIDC",
    );
    let sessions = scene.sessions().await;
    let refused = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert_refused(&refused, "has not enabled login and registration via OIDC");
    assert_eq!(scene.sessions().await, sessions);
    set_option(&scene.root, "oidc.enabled", "true").await;
    let resumed = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert!(resumed.success(), "{resumed:?}");
    assert_eq!(resumed.data()["id"], json!(alice_id));

    // Registration closed: an unknown subject is refused, a known one still signs in.
    set_option(&scene.root, "RegisterEnabled", "false").await;
    let users = scene.users().await;
    scene.idp.set_subject(Subject::named("newcomer"));
    assert_refused(
        &scene.flow(&scene.console()).await,
        "registration has been disabled",
    );
    assert_eq!(scene.users().await, users);
    assert_eq!(scene.holders_of("sub-newcomer").await, 0);
    scene.idp.set_subject(Subject::named("alice"));
    let (_, again) = scene.sign_in().await;
    assert_eq!(again.data()["id"], json!(alice_id));

    // A banned user is refused.
    sqlx::query("UPDATE users SET status = 2 WHERE id = ?")
        .bind(alice_id)
        .execute(&scene.pool)
        .await
        .expect("ban");
    let sessions = scene.sessions().await;
    assert_refused(&scene.flow(&scene.console()).await, "banned");
    assert_eq!(scene.sessions().await, sessions);

    // A deleted user's subject is refused, not signed up again (registration open or not).
    set_option(&scene.root, "RegisterEnabled", "true").await;
    sqlx::query("UPDATE users SET status = 1, deleted_at = 1 WHERE id = ?")
        .bind(alice_id)
        .execute(&scene.pool)
        .await
        .expect("delete");
    let users = scene.users().await;
    assert_refused(&scene.flow(&scene.console()).await, "has been deleted");
    assert_eq!(scene.users().await, users);
    assert_eq!(scene.sessions().await, sessions);
}
on_every_backend!(switches_and_bans_refuse);

async fn new_api_console_and_browser_flows(backend: Backend) {
    // Endpoints from the discovery document only.
    let scene = Scene::start(backend, true).await;

    // new-api's console: a bare state, then its own authorization URL without PKCE.
    scene.idp.set_behaviour(|b| b.require_pkce = false);
    let mut console = scene.console();
    let state = console.get("/api/oauth/state").await;
    assert!(state.success(), "{state:?}");
    let state = state
        .data()
        .as_str()
        .expect("data is the state")
        .to_string();
    assert_eq!(state.len(), 32);
    let mut url = url::Url::parse(&scene.idp.authorization_endpoint()).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair(
            "redirect_uri",
            &format!("{}/oauth/oidc", scene.pylon.base_url),
        )
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state);
    let redirect = scene.idp.authorize(url.as_str()).await;
    let answer = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    assert!(answer.success(), "{answer:?}");
    assert!(
        !scene
            .idp
            .token_requests()
            .last()
            .expect("a token request")
            .contains_key("code_verifier")
    );
    console.user_id = answer.data()["id"].as_i64();
    assert_eq!(
        console.get("/api/user/self").await.data()["username"],
        json!("alice")
    );

    // A plain browser: /auth/login redirects to the provider, which comes back to
    // /auth/callback (the client follows both redirects, keeping cookies).
    scene.idp.set_behaviour(|b| b.require_pkce = true);
    scene.idp.set_subject(Subject::named("browser-user"));
    let mut browser = scene.console();
    let answer = browser.get("/auth/login").await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.data()["username"], json!("browser-user"));
    let sent = scene.idp.authorizations();
    let sent = sent.last().expect("authorization");
    assert_eq!(
        sent.redirect_uri,
        format!("{}/auth/callback", scene.pylon.base_url)
    );
    assert!(sent.code_challenge.is_some());
    browser.user_id = answer.data()["id"].as_i64();
    assert_eq!(
        browser.get("/api/user/self").await.data()["oidc_id"],
        json!("sub-browser-user")
    );
}
on_every_backend!(new_api_console_and_browser_flows);

async fn callbacks_are_limited_per_ip(backend: Backend) {
    let scene = Scene::start_with(
        Pylon::builder(backend).env("PYLON__AUTH__LOGIN_ATTEMPTS_PER_IP", "3"),
        false,
    )
    .await;
    let console = scene.console();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = console
            .get(&format!("/api/oauth/oidc?code=x&state={}", "B".repeat(32)))
            .await;
        statuses.push(answer.status);
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(&statuses[3..], &[StatusCode::TOO_MANY_REQUESTS; 2]);
}
on_every_backend!(callbacks_are_limited_per_ip);
