//! new-api's built-in GitHub, Discord and LinuxDO sign-ins against mocks of the three
//! providers, which check the client credentials, the code and the redirect URI they receive:
//! `/api/status` reporting them, sign-up → sign-in again, usernames as new-api gives them,
//! binding while signed in, GitHub's legacy login ids, LinuxDO's trust level, and the
//! refusals (a method that is off, a forged, foreign or replayed state, a code the provider
//! refuses, an account bound to someone else, registration closed) that change nothing.

use pylon_tests::custom_oauth_fixtures::refused_with;
use pylon_tests::fixtures::set_option;
use pylon_tests::social_fixtures::{CLIENT_ID, CLIENT_SECRET, Scene, path};
use pylon_tests::social_providers::{Site, SocialUser};
use pylon_tests::{Backend, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;

const GITHUB_ID: &str = "SELECT github_id FROM users WHERE id = ?";

async fn enable_all(scene: &Scene) {
    for key in [
        "GitHubOAuthEnabled",
        "discord.enabled",
        "LinuxDOOAuthEnabled",
    ] {
        scene.switch(key, true).await;
    }
}

async fn sign_up_sign_in_and_bind(backend: Backend) {
    let scene = Scene::start(backend).await;
    let anonymous = scene.console();
    let status = anonymous.get("/api/status").await;
    for key in ["github_oauth", "discord_oauth", "linuxdo_oauth"] {
        assert_eq!(status.data()[key], json!(false), "{key}: {status:?}");
    }
    enable_all(&scene).await;
    set_option(&scene.root, "LinuxDOMinimumTrustLevel", "2").await;
    let status = anonymous.get("/api/status").await;
    for (key, value) in [
        ("github_oauth", json!(true)),
        ("github_client_id", json!(CLIENT_ID)),
        ("discord_oauth", json!(true)),
        ("discord_client_id", json!(CLIENT_ID)),
        ("linuxdo_oauth", json!(true)),
        ("linuxdo_client_id", json!(CLIENT_ID)),
        ("linuxdo_minimum_trust_level", json!(2)),
    ] {
        assert_eq!(status.data()[key], value, "{key}: {status:?}");
    }
    assert!(!status.body.to_string().contains(CLIENT_SECRET));

    // GitHub: a sign-up named after the login, bound to the numeric id, with its email.
    let octo = SocialUser::named(101, "octo");
    let (octo_console, first) = scene.sign_in(Site::GitHub, &octo).await;
    let octo_id = first.data()["id"].as_i64().expect("id");
    assert_eq!(first.data()["username"], json!("octo"));
    assert_eq!(first.data()["display_name"], json!("octo (social)"));
    assert_eq!(scene.text_of(GITHUB_ID, octo_id).await, "101");
    assert_eq!(
        scene
            .text_of("SELECT email FROM users WHERE id = ?", octo_id)
            .await,
        "octo@social.example"
    );
    let requests = scene.mock.token_requests();
    let github = &requests.last().expect("a token request").fields;
    assert_eq!(github.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert!(!github.contains_key("redirect_uri"), "{github:?}");
    let me = octo_console.get("/api/user/self").await;
    assert_eq!(me.data()["id"], json!(octo_id), "{me:?}");
    // Again: the same account, nothing new.
    let users = scene.count("SELECT COUNT(*) FROM users").await;
    let (_, again) = scene.sign_in(Site::GitHub, &octo).await;
    assert_eq!(again.data()["id"], json!(octo_id));
    assert_eq!(scene.count("SELECT COUNT(*) FROM users").await, users);

    // A login someone already has as a username: new-api's `github_{largest id + 1}`.
    let root_clash = SocialUser::named(102, "root");
    let (_, clash) = scene.sign_in(Site::GitHub, &root_clash).await;
    let clash_name = clash.data()["username"].as_str().unwrap_or("").to_string();
    assert!(clash_name.starts_with("github_"), "{clash:?}");
    assert!(clash_name[7..].parse::<i64>().is_ok(), "{clash:?}");

    // Discord and LinuxDO, with the redirect URIs their mocks insist on.
    let nelly = SocialUser::named(80351110224678912, "nelly");
    let (_, discord) = scene.sign_in(Site::Discord, &nelly).await;
    let nelly_id = discord.data()["id"].as_i64().expect("id");
    assert_eq!(discord.data()["username"], json!("nelly"));
    assert_eq!(
        scene
            .text_of("SELECT discord_id FROM users WHERE id = ?", nelly_id)
            .await,
        "80351110224678912"
    );
    let tux = SocialUser::named(7, "tux");
    let (_, linuxdo) = scene.sign_in(Site::LinuxDo, &tux).await;
    let tux_id = linuxdo.data()["id"].as_i64().expect("id");
    assert_eq!(
        scene
            .text_of("SELECT linux_do_id FROM users WHERE id = ?", tux_id)
            .await,
        "7"
    );
    // Below the required trust level: refused, nothing made.
    let before = scene.footprint().await;
    let novice = SocialUser {
        trust_level: 1,
        ..SocialUser::named(8, "novice")
    };
    let answer = scene.flow(&scene.console(), Site::LinuxDo, &novice).await;
    refused_with(&answer, StatusCode::OK, "trust level");
    assert_eq!(scene.footprint().await, before);

    // Binding: the signed-in Discord user adds a GitHub account.
    let mut nelly_console = scene.console();
    let signed_in = scene.flow(&nelly_console, Site::Discord, &nelly).await;
    assert!(signed_in.success(), "{signed_in:?}");
    nelly_console.user_id = Some(nelly_id);
    let hub = SocialUser::named(103, "nellyhub");
    let bound = scene.flow(&nelly_console, Site::GitHub, &hub).await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(bound.message(), "bind");
    assert_eq!(bound.data()["action"], json!("bind"));
    assert_eq!(scene.text_of(GITHUB_ID, nelly_id).await, "103");
    // ... and now signs in with it.
    let (_, via_github) = scene.sign_in(Site::GitHub, &hub).await;
    assert_eq!(via_github.data()["id"], json!(nelly_id));
    // A GitHub account bound to someone else is refused, and nothing changes.
    let before = scene.footprint().await;
    let taken = scene.flow(&nelly_console, Site::GitHub, &octo).await;
    refused_with(&taken, StatusCode::OK, "already bound to another user");
    assert_eq!(scene.text_of(GITHUB_ID, nelly_id).await, "103");
    assert_eq!(scene.text_of(GITHUB_ID, octo_id).await, "101");
    assert_eq!(scene.footprint().await, before);

    // An account new-api bound by login name moves to the numeric id on its next sign-in.
    sqlx::query("UPDATE users SET github_id = 'oldtimer' WHERE id = ?")
        .bind(tux_id)
        .execute(&scene.pool)
        .await
        .expect("legacy id");
    let oldtimer = SocialUser::named(104, "oldtimer");
    let (_, legacy) = scene.sign_in(Site::GitHub, &oldtimer).await;
    assert_eq!(legacy.data()["id"], json!(tux_id));
    assert_eq!(scene.text_of(GITHUB_ID, tux_id).await, "104");
}
on_every_backend!(sign_up_sign_in_and_bind);

async fn refusals_change_nothing(backend: Backend) {
    let scene = Scene::start(backend).await;
    let octo = SocialUser::named(201, "octo");

    // Off: refused before the state is spent and before the provider is called.
    let console = scene.console();
    let state = scene.state(&console).await;
    for site in [Site::GitHub, Site::Discord, Site::LinuxDo] {
        let code = scene.mock.code(site, &octo);
        let answer = console
            .get(&format!("{}?code={code}&state={state}", path(site)))
            .await;
        refused_with(&answer, StatusCode::OK, "has not enabled login");
    }
    assert!(scene.mock.token_requests().is_empty());
    enable_all(&scene).await;
    let code = scene.mock.code(Site::GitHub, &octo);
    let after = console
        .get(&format!("/api/oauth/github?code={code}&state={state}"))
        .await;
    assert!(
        after.success(),
        "the state survived the refusals: {after:?}"
    );

    let before = scene.footprint().await;
    let requests = scene.mock.token_requests().len();
    // A state from another browser, a made-up one, none: HTTP 403, as new-api.
    let victim = scene.console();
    let attacker = scene.console();
    let foreign = scene.state(&attacker).await;
    for state in [foreign.as_str(), "A".repeat(32).as_str(), ""] {
        let code = scene.mock.code(Site::Discord, &octo);
        let answer = victim
            .get(&format!("/api/oauth/discord?code={code}&state={state}"))
            .await;
        refused_with(&answer, StatusCode::FORBIDDEN, "OAuth state");
    }
    assert_eq!(scene.mock.token_requests().len(), requests);
    // A replayed state.
    let state = scene.state(&victim).await;
    let code = scene.mock.code(Site::LinuxDo, &octo);
    let answer = victim
        .get(&format!("/api/oauth/linuxdo?code={code}&state={state}"))
        .await;
    assert!(answer.success(), "{answer:?}");
    let before = (before.0 + 1, before.1 + 1);
    let replayed = victim
        .get(&format!("/api/oauth/linuxdo?code={code}&state={state}"))
        .await;
    refused_with(&replayed, StatusCode::FORBIDDEN, "OAuth state");
    // A code the provider does not know, one for another provider, none, a provider's error.
    for (site, query) in [
        (Site::GitHub, "code=unknown".to_string()),
        (Site::Discord, "code=unknown".to_string()),
        (Site::LinuxDo, "code=unknown".to_string()),
        (
            Site::Discord,
            format!("code={}", scene.mock.code(Site::GitHub, &octo)),
        ),
        (Site::GitHub, String::new()),
        (
            Site::GitHub,
            "error=access_denied&error_description=The+user+denied".to_string(),
        ),
    ] {
        let state = scene.state(&victim).await;
        let answer = victim
            .get(&format!("{}?{query}&state={state}", path(site)))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {answer:?}");
        assert!(!answer.success(), "{query} should be refused: {answer:?}");
        assert!(!answer.message().is_empty(), "{answer:?}");
    }
    assert_eq!(scene.footprint().await, before);

    // Registration closed: a new account is refused, a known one still signs in.
    set_option(&scene.root, "RegisterEnabled", "false").await;
    let stranger = SocialUser::named(202, "stranger");
    let answer = scene.flow(&scene.console(), Site::GitHub, &stranger).await;
    refused_with(&answer, StatusCode::OK, "registration has been disabled");
    assert_eq!(scene.footprint().await.0, before.0);
    let (_, known) = scene.sign_in(Site::GitHub, &octo).await;
    assert!(known.success(), "{known:?}");
    // An invitation code required for GitHub sign-ups: refused too.
    set_option(&scene.root, "RegisterEnabled", "true").await;
    let invitation = scene
        .root
        .send(
            reqwest::Method::PUT,
            "/api/option/invitation-code",
            Some(json!({"required": true, "methods": ["github"]}).to_string()),
        )
        .await;
    assert!(invitation.success(), "{invitation:?}");
    let answer = scene.flow(&scene.console(), Site::GitHub, &stranger).await;
    refused_with(&answer, StatusCode::OK, "invitation code is required");
    assert_eq!(scene.footprint().await.0, before.0);
}
on_every_backend!(refusals_change_nothing);
