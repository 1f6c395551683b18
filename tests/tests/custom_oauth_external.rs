//! new-api's custom OAuth providers of the `jwt_direct` and `trusted_header` kinds:
//! `POST /api/auth/external/{slug}/jwt/login` verifies the JWT's signature (a PEM public key,
//! or a key of the issuer's JWKS fetched from a mock), issuer, audience and expiry, or reads
//! the user info endpoint with it; `POST /api/auth/external/{slug}/header/login` believes the
//! identity headers only from a trusted proxy address. Both need the browser's state, map
//! groups and roles, register only when the provider says so, and change nothing when refused.

use pylon_tests::custom_oauth_fixtures::{Scene, refused_with};
use pylon_tests::fixtures::{console_with_role, set_option};
use pylon_tests::jwt_issuer::JwtIssuer;
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "pylon";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for `sub`.
fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": [AUDIENCE, "other"], "sub": sub, "exp": now() + 300,
        "preferred_username": sub, "name": format!("{sub} (JWT)"),
        "email": format!("{sub}@issuer.example"), "groups": ["staff", "eng"],
        "roles": "member",
    })
}

/// A JWT provider verifying with the issuer's PEM key (`extra` overrides).
fn jwt_provider(slug: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": "Corp JWT", "slug": slug, "kind": "jwt_direct", "enabled": true,
        "issuer": ISSUER, "audience": AUDIENCE, "public_key": JwtIssuer::public_pem(),
        "auto_register": true, "group_field": "groups",
        "group_mapping": "{\"staff\": \"vip\"}", "role_field": "roles",
        "authorization_endpoint": "https://issuer.example/login",
    });
    pylon_tests::custom_oauth_fixtures::merge(&mut body, extra);
    body
}

/// `POST .../jwt/login` in `console` with a fresh state and `fields`.
async fn jwt_login(
    scene: &Scene,
    console: &Console,
    slug: &str,
    fields: Value,
) -> pylon_tests::client::Answer {
    let mut body = json!({ "state": scene.state(console).await });
    pylon_tests::custom_oauth_fixtures::merge(&mut body, fields);
    console
        .post(&format!("/api/auth/external/{slug}/jwt/login"), body)
        .await
}

async fn jwt_login_verifies_and_signs_up(backend: Backend) {
    let scene = Scene::start(backend).await;
    set_option(&scene.root, "GroupRatio", r#"{"default": 1, "vip": 1}"#).await;
    let provider = scene
        .create_provider(jwt_provider("corp-jwt", json!({})))
        .await;
    let before = scene.footprint().await;

    // A valid token signs up, in the group its claims map to.
    let mut console = scene.console();
    let token = JwtIssuer::sign(&claims("ada"));
    let answer = jwt_login(&scene, &console, "corp-jwt", json!({ "id_token": token })).await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.data()["username"], json!("ada"));
    assert_eq!(answer.data()["group"], json!("vip"));
    assert_eq!(answer.data()["role"], json!(1));
    let id = answer.data()["id"].as_i64().expect("id");
    console.user_id = Some(id);
    assert_eq!(
        console.get("/api/user/oauth/bindings").await.data()[0]["provider_user_id"],
        json!("ada")
    );
    // The same token again (the `token` field, with a Bearer prefix) signs in.
    let again = jwt_login(
        &scene,
        &scene.console(),
        "corp-jwt",
        json!({ "token": format!("Bearer {}", JwtIssuer::sign(&claims("ada"))) }),
    )
    .await;
    assert_eq!(again.data()["id"], json!(id), "{again:?}");
    let after_signup = scene.footprint().await;
    assert_eq!(after_signup.0, before.0 + 1);

    // Refused tokens change nothing.
    let mut expired = claims("eve");
    expired["exp"] = json!(now() - 3600);
    let mut foreign = claims("eve");
    foreign["iss"] = json!("https://elsewhere.example");
    let mut unaddressed = claims("eve");
    unaddressed["aud"] = json!("someone-else");
    for (fields, expected) in [
        (
            json!({ "jwt": JwtIssuer::forge(&claims("eve")) }),
            "the JWT is not valid",
        ),
        (
            json!({ "jwt": JwtIssuer::sign(&expired) }),
            "the JWT is not valid",
        ),
        (
            json!({ "jwt": JwtIssuer::sign(&foreign) }),
            "issuer mismatch",
        ),
        (
            json!({ "jwt": JwtIssuer::sign(&unaddressed) }),
            "audience mismatch",
        ),
        (json!({ "jwt": "not.a.jwt" }), "the JWT is not valid"),
        (json!({}), "The JWT token is missing"),
        // An unsigned token ("alg": "none") never passes.
        (
            json!({ "jwt": unsigned(&claims("eve")) }),
            "the JWT is not valid",
        ),
    ] {
        let answer = jwt_login(&scene, &scene.console(), "corp-jwt", fields).await;
        refused_with(&answer, StatusCode::OK, expected);
    }
    // Without the browser's state, or with another's.
    let stateless = scene
        .console()
        .post(
            "/api/auth/external/corp-jwt/jwt/login",
            json!({ "state": "B".repeat(32), "jwt": JwtIssuer::sign(&claims("eve")) }),
        )
        .await;
    refused_with(&stateless, StatusCode::OK, "state");
    // An unknown slug, or a slug of another kind, is new-api's unknown provider.
    scene
        .create_provider(scene.oauth_code("corp", json!({})))
        .await;
    for slug in ["nosuch", "corp"] {
        let answer = jwt_login(
            &scene,
            &scene.console(),
            slug,
            json!({ "jwt": JwtIssuer::sign(&claims("eve")) }),
        )
        .await;
        refused_with(&answer, StatusCode::BAD_REQUEST, "Unknown OAuth provider");
    }
    assert_eq!(scene.footprint().await.0, after_signup.0);
    assert_eq!(scene.footprint().await.2, after_signup.2);

    // Automatic registration off: an unknown account is refused, a known one signs in.
    scene
        .update_provider(provider, json!({"auto_register": false}))
        .await;
    let answer = jwt_login(
        &scene,
        &scene.console(),
        "corp-jwt",
        json!({ "jwt": JwtIssuer::sign(&claims("eve")) }),
    )
    .await;
    refused_with(&answer, StatusCode::OK, "automatic registration is off");
    let known = jwt_login(
        &scene,
        &scene.console(),
        "corp-jwt",
        json!({ "jwt": JwtIssuer::sign(&claims("ada")) }),
    )
    .await;
    assert_eq!(known.data()["id"], json!(id), "{known:?}");

    // The provider's access policy refuses with its message.
    scene
        .update_provider(provider, json!({
            "access_policy": "{\"conditions\": [{\"field\": \"groups\", \"op\": \"contains\", \"value\": \"admins\"}]}",
            "access_denied_message": "{{provider}} wants {{required}}",
        }))
        .await;
    let denied = jwt_login(
        &scene,
        &scene.console(),
        "corp-jwt",
        json!({ "jwt": JwtIssuer::sign(&claims("ada")) }),
    )
    .await;
    refused_with(&denied, StatusCode::OK, "Corp JWT wants admins");
    assert_eq!(scene.footprint().await.0, after_signup.0);
}
on_every_backend!(jwt_login_verifies_and_signs_up);

/// A token with `"alg": "none"` and no signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn jwks_userinfo_binding_and_sync(backend: Backend) {
    let scene = Scene::start(backend).await;
    set_option(&scene.root, "GroupRatio", r#"{"default": 1, "vip": 1}"#).await;
    let issuer = JwtIssuer::start().await;
    // Keys from the issuer's JWKS, chosen by kid; group and role synced on every sign-in.
    let provider = scene
        .create_provider(jwt_provider(
            "jwks",
            json!({
                "public_key": "", "jwks_url": issuer.jwks_url(),
                "role_mapping": "{\"ops-admin\": \"admin\"}",
                "sync_group_on_login": true, "sync_role_on_login": true,
                "sync_display_name_on_login": true,
            }),
        ))
        .await;
    let mut ada = claims("ada");
    ada["groups"] = json!(["eng"]);
    let first = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "jwt": JwtIssuer::sign(&ada) }),
    )
    .await;
    assert!(first.success(), "{first:?}");
    assert_eq!(first.data()["group"], json!("default"));
    assert!(issuer.jwks_fetches() >= 1);
    let id = first.data()["id"].as_i64().expect("id");
    ada["groups"] = json!(["staff"]);
    ada["roles"] = json!(["ops-admin"]);
    ada["name"] = json!("Ada L.");
    let second = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "jwt": JwtIssuer::sign(&ada) }),
    )
    .await;
    assert_eq!(second.data()["id"], json!(id), "{second:?}");
    assert_eq!(second.data()["group"], json!("vip"));
    assert_eq!(second.data()["role"], json!(10));
    assert_eq!(second.data()["display_name"], json!("Ada L."));
    let forged = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "jwt": JwtIssuer::forge(&ada) }),
    )
    .await;
    refused_with(&forged, StatusCode::OK, "the JWT is not valid");

    // userinfo mode: the token goes to the user info endpoint in the configured header.
    scene
        .update_provider(
            provider,
            json!({
                "jwt_identity_mode": "userinfo", "user_info_endpoint": issuer.userinfo_url(),
                "jwt_header": "X-Access-Token",
            }),
        )
        .await;
    issuer.register_token(
        "opaque-token",
        json!({"sub": "grace", "preferred_username": "grace"}),
        "X-Access-Token",
    );
    let by_info = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "token": "opaque-token" }),
    )
    .await;
    assert!(by_info.success(), "{by_info:?}");
    assert_eq!(by_info.data()["username"], json!("grace"));
    let unknown = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "token": "unknown-token" }),
    )
    .await;
    refused_with(
        &unknown,
        StatusCode::OK,
        "Failed to get the user info from Corp JWT (HTTP 401)",
    );

    // A signed-in caller's state binds the token's account to their own.
    let bob = console_with_role(&scene.pylon, &scene.pool, "bob", 1).await;
    issuer.register_token(
        "bob-token",
        json!({"sub": "bob-at-issuer"}),
        "X-Access-Token",
    );
    let bound = jwt_login(&scene, &bob, "jwks", json!({ "token": "bob-token" })).await;
    assert_eq!(bound.message(), "bind", "{bound:?}");
    let as_bob = jwt_login(
        &scene,
        &scene.console(),
        "jwks",
        json!({ "token": "bob-token" }),
    )
    .await;
    assert_eq!(as_bob.data()["username"], json!("bob"), "{as_bob:?}");
}
on_every_backend!(jwks_userinfo_binding_and_sync);

/// `POST .../header/login` from `console` with `state`, through a proxy setting `headers`.
async fn header_login(
    console: &Console,
    state: String,
    headers: &[(&str, &str)],
) -> pylon_tests::client::Answer {
    console
        .post_with_headers(
            "/api/auth/external/gateway/header/login",
            json!({ "state": state }),
            headers,
        )
        .await
}

async fn header_login_trusts_only_its_proxy(backend: Backend) {
    let scene = Scene::start(backend).await;
    let provider = scene
        .create_provider(json!({
            "name": "Gateway", "slug": "gateway", "kind": "trusted_header", "enabled": true,
            "trusted_proxy_cidrs": "[\"127.0.0.1/32\", \"::1\"]",
            "external_id_header": "X-Auth-User", "username_header": "X-Auth-Name",
            "email_header": "X-Auth-Email", "auto_register": true,
            "client_id": "ignored", "authorization_endpoint": "https://ignored.example",
        }))
        .await;
    // Fields of other kinds are not kept.
    let stored = scene
        .root
        .get(&format!("/api/custom-oauth-provider/{provider}"))
        .await;
    assert_eq!(stored.data()["client_id"], json!(""));
    assert_eq!(stored.data()["authorization_endpoint"], json!(""));
    let before = scene.footprint().await;

    // Missing or doubled identity headers are refused.
    let console = scene.console();
    let refused = header_login(
        &console,
        scene.state(&console).await,
        &[("X-Auth-Name", "kim")],
    )
    .await;
    refused_with(&refused, StatusCode::OK, "did not send a usable identity");
    let doubled = header_login(
        &console,
        scene.state(&console).await,
        &[("X-Auth-User", "kim"), ("X-Auth-User", "lee")],
    )
    .await;
    refused_with(&doubled, StatusCode::OK, "did not send a usable identity");
    let stateless = header_login(&console, "C".repeat(32), &[("X-Auth-User", "kim")]).await;
    refused_with(&stateless, StatusCode::OK, "state");
    assert_eq!(scene.footprint().await, before);

    // From the trusted proxy (the tests' own address), the headers name the account.
    let answer = header_login(
        &console,
        scene.state(&console).await,
        &[
            ("X-Auth-User", "emp-7"),
            ("X-Auth-Name", "kim"),
            ("X-Auth-Email", "kim@corp.example"),
        ],
    )
    .await;
    assert!(answer.success(), "{answer:?}");
    assert_eq!(answer.data()["username"], json!("kim"));
    let again = header_login(&scene.console(), scene.state(&scene.console()).await, &[]).await;
    refused_with(&again, StatusCode::OK, "state");

    // Another network is not trusted: the same headers are refused.
    scene
        .update_provider(provider, json!({"trusted_proxy_cidrs": "[\"10.0.0.0/8\"]"}))
        .await;
    let console = scene.console();
    let untrusted = header_login(
        &console,
        scene.state(&console).await,
        &[("X-Auth-User", "emp-8"), ("X-Auth-Name", "mallory")],
    )
    .await;
    refused_with(
        &untrusted,
        StatusCode::OK,
        "did not come through a trusted proxy",
    );
    assert_eq!(scene.footprint().await.0, before.0 + 1);

    // A catch-all network cannot be configured.
    let answer = scene
        .root
        .send(
            reqwest::Method::PUT,
            &format!("/api/custom-oauth-provider/{provider}"),
            Some(json!({"trusted_proxy_cidrs": "[\"0.0.0.0/0\"]"}).to_string()),
        )
        .await;
    refused_with(&answer, StatusCode::OK, "too broad");
}
on_every_backend!(header_login_trusts_only_its_proxy);
