//! new-api's Codex channel helpers (issue 13) on SQLite and on MySQL + Redis, with the control
//! plane served in this process and `control_plane.codex_auth_url` pointing at a mock OpenAI
//! auth server that checks the PKCE exchange (client, redirect URI, code, and the verifier
//! against the challenge of the authorize URL) and the refresh; the channel's base URL points at
//! a mock usage endpoint that checks the token and account headers and refuses the first,
//! expired, token. Sign-in with and without a channel, refresh, usage with a renewal on refusal;
//! common users, anonymous callers, bad input and other channel types are refused.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_tests::catalogue_fixtures::{ok, root};
use pylon_tests::fixtures::{create_channel, openai_channel};
use pylon_tests::in_process::InProcess;
use pylon_tests::user_admin_fixtures::{INSUFFICIENT, PASSWORD, create_user, refused};
use pylon_tests::{Backend, Console, on_every_backend};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the mock auth server knows: the challenge of the latest authorize URL, and the grants
/// it received.
#[derive(Default)]
struct Auth {
    challenge: String,
    grants: Vec<HashMap<String, String>>,
}

type Shared = Arc<Mutex<Auth>>;

/// An access token whose claims name the account and email, numbered `n`.
fn access_token(n: u32) -> String {
    let claims = json!({"https://api.openai.com/auth": {"chatgpt_account_id": "acct-1"},
        "email": "ops@example.com", "n": n});
    format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

async fn token(State(auth): State<Shared>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut auth = auth.lock().expect("lock");
    auth.grants.push(form.clone());
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("client_id") != "app_EMoamEEZ73f0CkXaXp7hrann" {
        return AxumStatus::UNAUTHORIZED.into_response();
    }
    let n = match field("grant_type") {
        "authorization_code" => {
            let challenge =
                URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if field("code") != "the-code"
                || challenge != auth.challenge
                || field("redirect_uri") != "http://localhost:1455/auth/callback"
            {
                return (
                    AxumStatus::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            1
        }
        "refresh_token" => match field("refresh_token")
            .strip_prefix("rt-")
            .and_then(|n| n.parse::<u32>().ok())
        {
            Some(n) => n + 1,
            None => {
                return (
                    AxumStatus::BAD_REQUEST,
                    Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
        },
        _ => return AxumStatus::BAD_REQUEST.into_response(),
    };
    Json(
        json!({"access_token": access_token(n), "refresh_token": format!("rt-{n}"),
        "expires_in": 3600, "token_type": "Bearer"}),
    )
    .into_response()
}

async fn usage(headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if header("chatgpt-account-id") != "acct-1" || header("originator") != "codex_cli_rs" {
        return AxumStatus::BAD_REQUEST.into_response();
    }
    if header("authorization") == format!("Bearer {}", access_token(1)) {
        return (
            AxumStatus::UNAUTHORIZED,
            Json(json!({"detail": "token expired"})),
        )
            .into_response();
    }
    if !header("authorization").starts_with("Bearer e30.") {
        return AxumStatus::UNAUTHORIZED.into_response();
    }
    Json(json!({"plan_type": "plus", "rate_limit": {"primary_window": {"used_percent": 12}}}))
        .into_response()
}

async fn mock_openai(auth: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/backend-api/wham/usage", get(usage))
        .with_state(auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base_url
}

/// Starts a sign-in at `path`; the state of its authorize URL (the mock learns the challenge).
async fn start(console: &Console, path: &str, auth: &Shared, mock: &str) -> String {
    let started = ok(console.post(path, json!({})).await);
    let url =
        url::Url::parse(started["authorize_url"].as_str().expect("authorize_url")).expect("URL");
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        format!("{mock}/oauth/authorize")
    );
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "app_EMoamEEZ73f0CkXaXp7hrann");
    assert_eq!(query["redirect_uri"], "http://localhost:1455/auth/callback");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], "openid profile email offline_access");
    auth.lock().expect("lock").challenge = query["code_challenge"].clone();
    query["state"].clone()
}

async fn stored_key(plane: &InProcess, id: i64) -> Value {
    let row = plane
        .state
        .db
        .channel_by_id(id)
        .await
        .expect("read")
        .expect("channel");
    serde_json::from_str(&row.keys).expect("key JSON")
}

async fn codex_channels_sign_in_refresh_and_report_usage(backend: Backend) {
    let auth: Shared = Arc::default();
    let mock = mock_openai(auth.clone()).await;
    let plane = InProcess::start_with(
        backend,
        vec![(
            "PYLON__CONTROL_PLANE__CODEX_AUTH_URL".to_string(),
            mock.clone(),
        )],
    )
    .await;
    let root = root(&plane).await;
    create_user(&root, "common1", 1).await;
    let mut common = Console::new(&plane.base_url);
    common.login("common1", PASSWORD).await;
    let anonymous = Console::new(&plane.base_url);
    for path in [
        "/api/channel/codex/oauth/start",
        "/api/channel/codex/oauth/complete",
    ] {
        refused(
            &common.post(path, json!({"input": "c#s"})).await,
            INSUFFICIENT,
        );
        assert_eq!(
            anonymous.post(path, json!({})).await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    // Without a channel: the answer carries the key.
    let state = start(&root, "/api/channel/codex/oauth/start", &auth, &mock).await;
    let complete = "/api/channel/codex/oauth/complete";
    for (input, expected) in [
        (String::new(), "missing authorization code"),
        ("the-code".to_string(), "missing state"),
        (
            format!("http://localhost:1455/auth/callback?code=the-code&state={state}x"),
            "state mismatch",
        ),
        (
            format!("wrong-code#{state}"),
            "Exchanging the authorization code failed",
        ),
    ] {
        refused(
            &root.post(complete, json!({"input": input})).await,
            expected,
        );
    }
    refused(
        &root.post(complete, json!({"input": 5})).await,
        "Invalid parameters",
    );
    let generated = root
        .post(complete, json!({"input": format!("http://localhost:1455/auth/callback?code=the-code&state={state}")}))
        .await;
    assert!(generated.success(), "{generated:?}");
    assert_eq!(generated.message(), "generated");
    let data = generated.data();
    assert_eq!(data["account_id"], json!("acct-1"));
    assert_eq!(data["email"], json!("ops@example.com"));
    assert!(
        data["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{data}"
    );
    let key: Value = serde_json::from_str(data["key"].as_str().expect("key")).expect("key JSON");
    assert_eq!(key["access_token"], json!(access_token(1)));
    assert_eq!(key["refresh_token"], json!("rt-1"));
    assert_eq!(key["account_id"], json!("acct-1"));
    assert_eq!(key["type"], json!("codex"));
    let grant = auth
        .lock()
        .expect("lock")
        .grants
        .last()
        .cloned()
        .expect("a grant");
    assert_eq!(grant["grant_type"], "authorization_code");
    refused(
        &root
            .post(complete, json!({"input": format!("the-code#{state}")}))
            .await,
        "oauth flow not started or session expired",
    );

    // With a channel: the key is saved; other types and unknown ids are refused.
    let codex = create_channel(
        &root,
        json!({"type": 57, "name": "codex", "key": data["key"], "base_url": mock,
            "models": "gpt-5-codex", "group": "default"}),
    )
    .await;
    let openai = create_channel(&root, openai_channel("openai", &mock, "m")).await;
    for path in [
        format!("/api/channel/{openai}/codex/oauth/start"),
        format!("/api/channel/{openai}/codex/refresh"),
    ] {
        refused(
            &root.post(&path, json!({})).await,
            "channel type is not Codex",
        );
    }
    refused(
        &root
            .get(&format!("/api/channel/{openai}/codex/usage"))
            .await,
        "channel type is not Codex",
    );
    refused(
        &root
            .post("/api/channel/999999/codex/oauth/start", json!({}))
            .await,
        "Channel does not exist",
    );
    let state = start(
        &root,
        &format!("/api/channel/{codex}/codex/oauth/start"),
        &auth,
        &mock,
    )
    .await;
    let saved = root
        .post(
            &format!("/api/channel/{codex}/codex/oauth/complete"),
            json!({"input": format!("the-code#{state}")}),
        )
        .await;
    assert!(saved.success(), "{saved:?}");
    assert_eq!(saved.message(), "saved");
    assert_eq!(saved.data()["channel_id"], json!(codex));
    assert_eq!(
        stored_key(&plane, codex).await["access_token"],
        json!(access_token(1))
    );

    // Usage: the expired token is refused upstream, renewed once, saved, and asked again.
    let used = root.get(&format!("/api/channel/{codex}/codex/usage")).await;
    assert!(used.success(), "{used:?}");
    assert_eq!(used.body["upstream_status"], json!(200));
    assert_eq!(used.data()["plan_type"], json!("plus"));
    let key = stored_key(&plane, codex).await;
    assert_eq!(key["access_token"], json!(access_token(2)));
    assert_eq!(key["refresh_token"], json!("rt-2"));

    // Refresh.
    let renewed = root
        .post(&format!("/api/channel/{codex}/codex/refresh"), json!({}))
        .await;
    assert!(renewed.success(), "{renewed:?}");
    assert_eq!(renewed.message(), "refreshed");
    let data = renewed.data();
    assert_eq!(data["channel_id"], json!(codex));
    assert_eq!(data["channel_type"], json!(57));
    assert_eq!(data["channel_name"], json!("codex"));
    assert_eq!(data["account_id"], json!("acct-1"));
    assert_eq!(
        stored_key(&plane, codex).await["refresh_token"],
        json!("rt-3")
    );
    let grant = auth
        .lock()
        .expect("lock")
        .grants
        .last()
        .cloned()
        .expect("a grant");
    assert_eq!(grant["grant_type"], "refresh_token");
    assert_eq!(grant["refresh_token"], "rt-2");

    // A common user changes nothing.
    refused(
        &common
            .post(&format!("/api/channel/{codex}/codex/refresh"), json!({}))
            .await,
        INSUFFICIENT,
    );
    refused(
        &common
            .get(&format!("/api/channel/{codex}/codex/usage"))
            .await,
        INSUFFICIENT,
    );
    assert_eq!(
        stored_key(&plane, codex).await["refresh_token"],
        json!("rt-3")
    );
}

on_every_backend!(codex_channels_sign_in_refresh_and_report_usage);
