//! new-api's custom OAuth providers, authorization code kind, against a mock provider that
//! checks the client credentials, the code and the redirect URI: root's management (with its
//! validation, root only, the secret never shown), `/api/status`'s buttons, the discovery
//! route, the sign-in → sign-up → sign-in-again flow of `GET /api/oauth/{slug}`, binding while
//! signed in, the refusals (wrong state, unknown slug, a disabled provider, a code the provider
//! refuses) that change nothing, and the bindings as users and administrators see them.

use pylon_tests::custom_oauth_fixtures::{CLIENT_ID, CLIENT_SECRET, Scene, refused_with};
use pylon_tests::fixtures::console_with_role;
use pylon_tests::oidc_provider::Subject;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, NO_VIEW, delete};
use pylon_tests::{Backend, on_every_backend};
use reqwest::{Method, StatusCode};
use serde_json::json;

const BASE: &str = "/api/custom-oauth-provider/";

async fn root_manages_providers_with_validation(backend: Backend) {
    let scene = Scene::start(backend).await;
    let root = &scene.root;
    let id = scene
        .create_provider(scene.oauth_code("Corp", json!({"enabled": false})))
        .await;

    // Stored normalized, with new-api's defaults, and never with its secret.
    let got = root.get(&format!("{BASE}{id}")).await;
    assert!(got.success(), "{got:?}");
    let data = got.data();
    assert_eq!(data["slug"], json!("corp"));
    assert_eq!(data["kind"], json!("oauth_code"));
    assert_eq!(data["client_id"], json!(CLIENT_ID));
    assert_eq!(data["user_id_field"], json!("sub"));
    assert_eq!(data["username_field"], json!("preferred_username"));
    assert_eq!(data["auth_style"], json!(0));
    assert_eq!(data["enabled"], json!(false));
    assert!(data.get("client_secret").is_none(), "{data}");
    let list = root.get(BASE).await;
    assert_eq!(list.data().as_array().map(Vec::len), Some(1));
    assert!(list.data()[0].get("client_secret").is_none());
    assert!(!list.body.to_string().contains(CLIENT_SECRET));
    // Sealed at rest.
    let stored: String = sqlx::query_scalar("SELECT client_secret FROM custom_oauth_providers")
        .fetch_one(&scene.pool)
        .await
        .expect("stored secret");
    assert!(!stored.is_empty() && !stored.contains(CLIENT_SECRET));

    // Bad providers are refused with a clear message, and nothing is written.
    let rows = || scene.count("SELECT COUNT(*) FROM custom_oauth_providers");
    for (body, expected) in [
        (
            scene.oauth_code("corp", json!({})),
            "slug is already in use",
        ),
        (
            scene.oauth_code("bad slug!", json!({})),
            "only lowercase letters",
        ),
        (
            scene.oauth_code("state", json!({})),
            "conflicts with a built-in",
        ),
        (
            scene.oauth_code("oidc", json!({})),
            "conflicts with a built-in",
        ),
        (
            scene.oauth_code("x", json!({"name": " "})),
            "name is required",
        ),
        (
            scene.oauth_code("x", json!({"kind": "cas"})),
            "kind is invalid",
        ),
        (
            scene.oauth_code("x", json!({"client_id": ""})),
            "client ID is required",
        ),
        (
            scene.oauth_code("x", json!({"token_endpoint": ""})),
            "token endpoint is required",
        ),
        (
            scene.oauth_code("x", json!({"user_info_endpoint": "idp.example/userinfo"})),
            "user_info_endpoint must be a valid http/https url",
        ),
        (
            scene.oauth_code("x", json!({"well_known": "javascript:alert(1)"})),
            "well_known must be a valid",
        ),
        (
            scene.oauth_code("x", json!({"auth_style": 7})),
            "auth_style",
        ),
        (
            scene.oauth_code("x", json!({"enabled": "yes"})),
            "enabled must be true or false",
        ),
        (
            scene.oauth_code("x", json!({"access_policy": "{\"logic\": \"and\"}"})),
            "access_policy is invalid",
        ),
        (
            scene.oauth_code(
                "x",
                json!({"kind": "jwt_direct", "issuer": "https://i.example",
                "jwks_url": "https://i.example/jwks", "jwt_acquire_mode": "ticket_exchange"}),
            ),
            "not supported",
        ),
        (
            scene.oauth_code("x", json!({"name": "n".repeat(65)})),
            "name is too long",
        ),
    ] {
        let answer = root.post(BASE, body).await;
        refused_with(&answer, StatusCode::OK, expected);
    }
    let answer = root.post_raw(BASE, "{not json").await;
    refused_with(&answer, StatusCode::OK, "Invalid parameters");
    assert_eq!(rows().await, 1);

    // An update changes the fields it names; an empty secret keeps the stored one.
    scene
        .update_provider(
            id,
            json!({"name": "Corp Login", "client_secret": "", "enabled": true}),
        )
        .await;
    let got = root.get(&format!("{BASE}{id}")).await;
    assert_eq!(got.data()["name"], json!("Corp Login"));
    assert_eq!(
        got.data()["token_endpoint"],
        json!(scene.idp.token_endpoint())
    );
    let (_, signed_in) = scene.sign_in("corp").await;
    assert_eq!(signed_in.data()["username"], json!("alice"));
    let other = scene
        .create_provider(scene.oauth_code("other", json!({})))
        .await;
    let clash = root
        .send(
            Method::PUT,
            &format!("{BASE}{other}"),
            Some(json!({"slug": "corp"}).to_string()),
        )
        .await;
    refused_with(&clash, StatusCode::OK, "slug is already in use");
    let missing = root
        .send(
            Method::PUT,
            &format!("{BASE}999"),
            Some(json!({"name": "x"}).to_string()),
        )
        .await;
    refused_with(&missing, StatusCode::OK, "OAuth provider not found");
    refused_with(
        &root.get(&format!("{BASE}999")).await,
        StatusCode::OK,
        "not found",
    );

    // Root only: an administrator and a user are refused before anything happens.
    let admin = console_with_role(&scene.pylon, &scene.pool, "admin1", 10).await;
    let user = console_with_role(&scene.pylon, &scene.pool, "user1", 1).await;
    for console in [&admin, &user] {
        for answer in [
            console.get(BASE).await,
            console
                .post(BASE, scene.oauth_code("sneaky", json!({})))
                .await,
            delete(console, &format!("{BASE}{other}")).await,
            console
                .post(
                    &format!("{BASE}discovery"),
                    json!({"issuer_url": scene.idp.base_url}),
                )
                .await,
        ] {
            refused_with(&answer, StatusCode::OK, INSUFFICIENT);
        }
    }
    assert_eq!(rows().await, 2);

    // Deleting: refused while someone is bound, then allowed; unknown ids refused.
    refused_with(
        &delete(root, &format!("{BASE}{id}")).await,
        StatusCode::OK,
        "still bound",
    );
    let deleted = delete(root, &format!("{BASE}{other}")).await;
    assert!(deleted.success(), "{deleted:?}");
    refused_with(
        &delete(root, &format!("{BASE}{other}")).await,
        StatusCode::OK,
        "not found",
    );
    assert_eq!(rows().await, 1);
}
on_every_backend!(root_manages_providers_with_validation);

async fn status_and_discovery(backend: Backend) {
    let scene = Scene::start(backend).await;
    // No provider: the key is absent, as in new-api.
    let status = scene.console().get("/api/status").await;
    assert!(
        status.data().get("custom_oauth_providers").is_none(),
        "{status:?}"
    );

    let id = scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    scene
        .create_provider(scene.oauth_code("hidden", json!({"enabled": false})))
        .await;
    let status = scene.console().get("/api/status").await;
    let listed = status.data()["custom_oauth_providers"]
        .as_array()
        .expect("the providers");
    assert_eq!(listed.len(), 1, "only enabled providers: {listed:?}");
    assert_eq!(
        listed[0],
        json!({
            "id": id, "name": "corp SSO", "slug": "corp", "icon": "openid",
            "client_id": CLIENT_ID, "authorization_endpoint": scene.idp.authorization_endpoint(),
            "scopes": "openid profile email",
        })
    );
    assert!(!status.body.to_string().contains(CLIENT_SECRET));

    // Discovery: from the issuer or the document's URL.
    let discovery = format!("{BASE}discovery");
    for body in [
        json!({"issuer_url": format!("{}/", scene.idp.base_url)}),
        json!({"well_known_url": scene.idp.well_known_url()}),
    ] {
        let found = scene.root.post(&discovery, body).await;
        assert!(found.success(), "{found:?}");
        assert_eq!(
            found.data()["well_known_url"],
            json!(scene.idp.well_known_url())
        );
        assert_eq!(
            found.data()["discovery"]["token_endpoint"],
            json!(scene.idp.token_endpoint())
        );
    }
    for (body, expected) in [
        (json!({}), "discovery URL or the issuer URL"),
        (
            json!({"well_known_url": "ftp://idp.example/conf"}),
            "only http and https",
        ),
        (
            json!({"well_known_url": format!("{}/missing", scene.idp.base_url)}),
            "Failed to get the discovery document",
        ),
        (
            json!({"well_known_url": "http://127.0.0.1:9/conf"}),
            "Failed to get the discovery document",
        ),
    ] {
        refused_with(
            &scene.root.post(&discovery, body).await,
            StatusCode::OK,
            expected,
        );
    }
}
on_every_backend!(status_and_discovery);

async fn login_signs_up_then_signs_in_again(backend: Backend) {
    let scene = Scene::start(backend).await;
    pylon_tests::fixtures::set_option(&scene.root, "QuotaForNewUser", "4321").await;
    let provider = scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    let (users, sessions, _) = scene.footprint().await;

    let (console, answer) = scene.sign_in("corp").await;
    let data = answer.data();
    assert_eq!(data["username"], json!("alice"));
    assert_eq!(data["display_name"], json!("alice (IdP)"));
    assert_eq!(data["role"], json!(1));
    assert_eq!(data["group"], json!("default"));
    let id = data["id"].as_i64().expect("id");
    assert_eq!(scene.footprint().await, (users + 1, sessions + 1, 1));

    // The mock saw the client's credentials, the code and the console's redirect URI.
    let redeemed = scene.idp.token_requests();
    let form = redeemed.last().expect("a token request");
    assert_eq!(form.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(
        form.get("client_secret").map(String::as_str),
        Some(CLIENT_SECRET)
    );
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("authorization_code")
    );
    assert_eq!(
        form.get("redirect_uri"),
        Some(&format!("{}/oauth/corp", scene.pylon.base_url))
    );

    // The session is a real one; the account has the sign-up quota and the binding.
    let me = console.get("/api/user/self").await;
    assert_eq!(me.data()["id"], json!(id));
    assert_eq!(me.data()["email"], json!("alice@idp.example"));
    assert_eq!(me.data()["quota"], json!(4321));
    let bindings = console.get("/api/user/oauth/bindings").await;
    assert_eq!(
        bindings.data(),
        &json!([{"provider_id": provider, "provider_name": "corp SSO", "provider_slug": "corp",
            "provider_icon": "openid", "provider_user_id": "sub-alice"}])
    );

    // Signing in again finds the account.
    let (_, again) = scene.sign_in("corp").await;
    assert_eq!(again.data()["id"], json!(id));
    assert_eq!(scene.footprint().await.0, users + 1);

    // HTTP Basic client authentication (auth_style 2) works too.
    scene
        .update_provider(provider, json!({"auth_style": 2}))
        .await;
    let (_, basic) = scene.sign_in("corp").await;
    assert_eq!(basic.data()["id"], json!(id));
    assert!(
        !scene
            .idp
            .token_requests()
            .last()
            .expect("form")
            .contains_key("client_secret")
    );

    // A taken username falls back to `{slug}_{n}`; a name is made without one.
    scene.idp.set_subject(Subject {
        sub: "sub-root-at-idp".into(),
        email: String::new(),
        preferred_username: "root".into(),
        name: String::new(),
    });
    let (_, clash) = scene.sign_in("corp").await;
    let name = clash.data()["username"].as_str().expect("username");
    assert!(name.starts_with("corp_"), "{name}");
    assert_eq!(clash.data()["display_name"], json!("root"));
    assert_eq!(scene.footprint().await.0, users + 2);

    // Registration closed: a new provider account is refused, a known one still signs in.
    pylon_tests::fixtures::set_option(&scene.root, "RegisterEnabled", "false").await;
    scene.idp.set_subject(Subject::named("newcomer"));
    let before = scene.footprint().await;
    refused_with(
        &scene.flow(&scene.console(), "corp").await,
        StatusCode::OK,
        "registration has been disabled",
    );
    assert_eq!(scene.footprint().await, before);
    scene.idp.set_subject(Subject::named("alice"));
    let (_, known) = scene.sign_in("corp").await;
    assert_eq!(known.data()["id"], json!(id));
}
on_every_backend!(login_signs_up_then_signs_in_again);

async fn binding_while_signed_in(backend: Backend) {
    let scene = Scene::start(backend).await;
    scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    let bob = console_with_role(&scene.pylon, &scene.pool, "bob", 1).await;
    let carol = console_with_role(&scene.pylon, &scene.pool, "carol", 1).await;
    let (users, _, _) = scene.footprint().await;

    // Signed in, the flow binds (new-api's "bind" answer) and creates nobody.
    scene.idp.set_subject(Subject::named("bob-at-idp"));
    let bound = scene.flow(&bob, "corp").await;
    assert!(bound.success(), "{bound:?}");
    assert_eq!(bound.message(), "bind");
    assert_eq!(bound.data()["action"], json!("bind"));
    assert_eq!(
        bob.get("/api/user/oauth/bindings").await.data()[0]["provider_user_id"],
        json!("sub-bob-at-idp")
    );
    assert_eq!(scene.footprint().await.0, users);

    // Now the provider signs in as bob.
    let (_, as_bob) = scene.sign_in("corp").await;
    assert_eq!(as_bob.data()["username"], json!("bob"));

    // Carol cannot take bob's provider account; bob cannot bind a second one.
    let taken = scene.flow(&carol, "corp").await;
    refused_with(&taken, StatusCode::OK, "already bound to another user");
    assert_eq!(
        carol.get("/api/user/oauth/bindings").await.data(),
        &json!([])
    );
    scene.idp.set_subject(Subject::named("bob-second"));
    let second = scene.flow(&bob, "corp").await;
    refused_with(&second, StatusCode::OK, "already bound to another");
    assert_eq!(scene.footprint().await.2, 1);
}
on_every_backend!(binding_while_signed_in);

async fn refusals_change_nothing(backend: Backend) {
    let scene = Scene::start(backend).await;
    let provider = scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    let before = scene.footprint().await;
    let console = scene.console();
    let state = scene.state(&console).await;
    let redirect = scene
        .idp
        .authorize(&scene.authorization_url("corp", &state))
        .await;
    let code = redirect.code.clone().expect("code");

    // A wrong or missing state: HTTP 403 as in new-api; the right state from another browser
    // too.
    for query in [
        format!("?code={code}&state={}", "A".repeat(32)),
        format!("?code={code}"),
    ] {
        let answer = console.get(&format!("/api/oauth/corp{query}")).await;
        refused_with(&answer, StatusCode::FORBIDDEN, "state");
    }
    let elsewhere = scene
        .console()
        .get(&format!("/api/oauth/corp{}", redirect.query()))
        .await;
    refused_with(
        &elsewhere,
        StatusCode::FORBIDDEN,
        "does not belong to this browser",
    );

    // An unknown slug: HTTP 400; the fixed routes beside the slug still answer as before.
    let unknown = console
        .get(&format!("/api/oauth/nosuch{}", redirect.query()))
        .await;
    refused_with(&unknown, StatusCode::BAD_REQUEST, "Unknown OAuth provider");
    let oidc = console
        .get(&format!("/api/oauth/oidc{}", redirect.query()))
        .await;
    refused_with(
        &oidc,
        StatusCode::OK,
        "not enabled login and registration via OIDC",
    );
    assert!(
        scene
            .console()
            .get("/api/oauth/state")
            .await
            .data()
            .is_string()
    );

    // A disabled provider is refused by name without spending the state.
    scene
        .update_provider(provider, json!({"enabled": false}))
        .await;
    let off = console
        .get(&format!("/api/oauth/corp{}", redirect.query()))
        .await;
    refused_with(&off, StatusCode::OK, "has not enabled login via corp SSO");
    let status = scene.console().get("/api/status").await;
    assert!(status.data().get("custom_oauth_providers").is_none());
    assert_eq!(scene.footprint().await, before);

    // The provider refuses the code: its error is shown, nobody is signed in. (Another
    // browser: a new state would replace this one's pending state cookie.)
    let later = scene.console();
    scene
        .update_provider(provider, json!({"enabled": true}))
        .await;
    let state = scene.state(&later).await;
    let bogus = later
        .get(&format!("/api/oauth/corp?code=not-a-code&state={state}"))
        .await;
    refused_with(
        &bogus,
        StatusCode::OK,
        "The code is invalid or was already used",
    );
    // A wrong client secret, and the user refusing at the provider.
    scene
        .update_provider(provider, json!({"client_secret": "wrong-secret"}))
        .await;
    refused_with(
        &scene.flow(&later, "corp").await,
        StatusCode::OK,
        "Client authentication failed",
    );
    scene
        .update_provider(provider, json!({"client_secret": CLIENT_SECRET}))
        .await;
    scene.idp.set_behaviour(|b| b.deny = true);
    refused_with(
        &scene.flow(&later, "corp").await,
        StatusCode::OK,
        "corp SSO refused the sign-in: The user denied the request",
    );
    scene.idp.set_behaviour(|b| b.deny = false);
    // The user info endpoint fails; a provider that is unreachable.
    scene.idp.set_behaviour(|b| b.userinfo_status = Some(500));
    refused_with(
        &scene.flow(&later, "corp").await,
        StatusCode::OK,
        "Failed to get the user info from corp SSO",
    );
    scene.idp.set_behaviour(|b| b.userinfo_status = None);
    scene
        .update_provider(
            provider,
            json!({"token_endpoint": "http://127.0.0.1:9/token"}),
        )
        .await;
    refused_with(
        &scene.flow(&later, "corp").await,
        StatusCode::OK,
        "Cannot connect to corp SSO",
    );
    assert_eq!(scene.footprint().await, before);

    // The original state, never spent, still works once the provider is back.
    scene
        .update_provider(
            provider,
            json!({"token_endpoint": scene.idp.token_endpoint()}),
        )
        .await;
    let resumed = console
        .get(&format!("/api/oauth/corp{}", redirect.query()))
        .await;
    assert!(resumed.success(), "{resumed:?}");
    let replayed = console
        .get(&format!("/api/oauth/corp{}", redirect.query()))
        .await;
    refused_with(&replayed, StatusCode::FORBIDDEN, "state");
}
on_every_backend!(refusals_change_nothing);

async fn bindings_for_users_and_admins(backend: Backend) {
    let scene = Scene::start(backend).await;
    let corp = scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    let other = scene
        .create_provider(scene.oauth_code("other", json!({})))
        .await;
    let (alice, answer) = scene.sign_in("corp").await;
    let alice_id = answer.data()["id"].as_i64().expect("id");
    scene.idp.set_subject(Subject::named("bob"));
    let (bob, answer) = scene.sign_in("other").await;
    let bob_id = answer.data()["id"].as_i64().expect("id");

    // Alice cannot remove bob's binding (a provider she is not bound to), nor give a bad id.
    let user_path = |id: i64| format!("/api/user/oauth/bindings/{id}");
    refused_with(
        &delete(&alice, &user_path(other)).await,
        StatusCode::OK,
        "No binding",
    );
    refused_with(
        &delete(&alice, "/api/user/oauth/bindings/abc").await,
        StatusCode::OK,
        "Invalid provider ID",
    );
    assert_eq!(
        bob.get("/api/user/oauth/bindings")
            .await
            .data()
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // An administrator lists and removes a user's binding (audited); not a peer's or root's.
    let admin = console_with_role(&scene.pylon, &scene.pool, "admin1", 10).await;
    let listed = admin
        .get(&format!("/api/user/{bob_id}/oauth/bindings"))
        .await;
    assert!(listed.success(), "{listed:?}");
    assert_eq!(listed.data()[0]["provider_slug"], json!("other"));
    refused_with(
        &admin.get(&format!("/api/user/{}/oauth/bindings", 1)).await,
        StatusCode::OK,
        NO_VIEW,
    );
    let wrong = delete(&admin, &format!("/api/user/{bob_id}/oauth/bindings/{corp}")).await;
    refused_with(&wrong, StatusCode::OK, "No binding");
    let removed = delete(
        &admin,
        &format!("/api/user/{bob_id}/oauth/bindings/{other}"),
    )
    .await;
    assert!(removed.success(), "{removed:?}");
    assert_eq!(bob.get("/api/user/oauth/bindings").await.data(), &json!([]));
    let audit: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM logs WHERE user_id = ? AND content LIKE '%OAuth provider%'",
    )
    .bind(bob_id)
    .fetch_one(&scene.pool)
    .await
    .expect("audit rows");
    assert_eq!(audit, 1);
    // Users cannot use the administrators' routes.
    refused_with(
        &alice
            .get(&format!("/api/user/{alice_id}/oauth/bindings"))
            .await,
        StatusCode::OK,
        INSUFFICIENT,
    );

    // Alice removes her own; the provider can then be deleted.
    let own = delete(&alice, &user_path(corp)).await;
    assert!(own.success(), "{own:?}");
    assert_eq!(
        alice.get("/api/user/oauth/bindings").await.data(),
        &json!([])
    );
    assert_eq!(scene.footprint().await.2, 0);
    assert!(
        delete(&scene.root, &format!("{BASE}{corp}"))
            .await
            .success()
    );
}
on_every_backend!(bindings_for_users_and_admins);
