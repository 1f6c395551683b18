//! Mocks of the servers behind new-api's built-in sign-ins, on 127.0.0.1 and a free port, each
//! in its provider's own shapes and checking what a real one checks:
//!
//! - GitHub: `POST /login/oauth/access_token` (a JSON body with the client's credentials and
//!   the code, no redirect URI) and `GET /user` (needs a User-Agent, as GitHub's API does);
//! - Discord: `POST /api/v10/oauth2/token` (a form with the credentials, the code, the grant
//!   type and the redirect URI) and `GET /api/v10/users/@me`;
//! - LinuxDO Connect: `POST /oauth2/token` (credentials in HTTP Basic, a form with the code,
//!   the grant type and the redirect URI) and `GET /api/user`;
//! - the operator's WeChat server: `GET /api/wechat/user?code=` (its token in `Authorization`).
//!
//! A test hands out codes ([`MockSocial::code`], [`MockSocial::wechat_code`]); each is redeemed
//! at most once, only by the expected client and with the expected redirect URI. Also:
//! Telegram's login widget data, signed as Telegram signs it ([`telegram_widget`]).

use crate::mock_server::{self, MockServer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pylon_shared::crypto::{hmac_sha256_hex, random_alphanumeric};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A provider of the authorization code flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    GitHub,
    Discord,
    LinuxDo,
}

/// An account at a provider (each mock answers its own fields from it).
#[derive(Debug, Clone)]
pub struct SocialUser {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub email: String,
    /// LinuxDO's forum trust level.
    pub trust_level: i64,
}

impl SocialUser {
    /// An account whose other fields derive from `username`.
    pub fn named(id: i64, username: &str) -> Self {
        Self {
            id,
            username: username.to_string(),
            name: format!("{username} (social)"),
            email: format!("{username}@social.example"),
            trust_level: 3,
        }
    }
}

/// A token request a mock accepted or refused: the site and the fields it received (the
/// Basic credentials as `client_id`/`client_secret`).
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub site: Site,
    pub fields: HashMap<String, String>,
}

struct Inner {
    codes: HashMap<String, (Site, SocialUser)>,
    access_tokens: HashMap<String, (Site, SocialUser)>,
    token_requests: Vec<TokenRequest>,
    wechat_codes: HashMap<String, String>,
    wechat_requests: usize,
}

struct Shared {
    client_id: String,
    client_secret: String,
    /// `ServerAddress` of the Pylon under test: the redirect URIs derive from it.
    server_address: Mutex<String>,
    wechat_token: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The redirect URI a site must receive (GitHub's takes none).
    fn redirect_uri(&self, site: Site) -> Option<String> {
        let address = self
            .server_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match site {
            Site::GitHub => None,
            Site::Discord => Some(format!("{address}/oauth/discord")),
            Site::LinuxDo => Some(format!("{address}/api/oauth/linuxdo")),
        }
    }
}

/// The running mocks; they stop when dropped.
pub struct MockSocial {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: MockServer,
}

impl MockSocial {
    /// Mocks that know one OAuth client (the same at every site), and a WeChat server that
    /// takes `wechat_token`. They expect the redirect URIs of [`Self::expect_server`].
    pub async fn start(client_id: &str, client_secret: &str, wechat_token: &str) -> Self {
        let bound = mock_server::bind("social providers").await;
        let base_url = bound.base_url.clone();
        let shared = Arc::new(Shared {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            server_address: Mutex::new(String::new()),
            wechat_token: wechat_token.to_string(),
            inner: Mutex::new(Inner {
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                token_requests: Vec::new(),
                wechat_codes: HashMap::new(),
                wechat_requests: 0,
            }),
        });
        let router = Router::new()
            .route("/login/oauth/access_token", post(github_token))
            .route("/user", get(github_user))
            .route("/api/v10/oauth2/token", post(discord_token))
            .route("/api/v10/users/@me", get(discord_user))
            .route("/oauth2/token", post(linuxdo_token))
            .route("/api/user", get(linuxdo_user))
            .route("/api/wechat/user", get(wechat_user))
            .with_state(Arc::clone(&shared));
        Self {
            base_url,
            shared,
            _server: bound.serve(router),
        }
    }

    /// Expects the redirect URIs of a Pylon whose `ServerAddress` is `address`.
    pub fn expect_server(&self, address: &str) {
        *self
            .shared
            .server_address
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = address.to_string();
    }

    /// The environment that points a Pylon's sign-in servers here.
    pub fn pylon_env(&self) -> [(&'static str, String); 4] {
        [
            ("PYLON__CONTROL_PLANE__GITHUB_URL", self.base_url.clone()),
            (
                "PYLON__CONTROL_PLANE__GITHUB_API_URL",
                self.base_url.clone(),
            ),
            (
                "PYLON__CONTROL_PLANE__DISCORD_API_URL",
                format!("{}/api/v10", self.base_url),
            ),
            ("PYLON__CONTROL_PLANE__LINUXDO_URL", self.base_url.clone()),
        ]
    }

    /// A fresh single-use code for which `site` vouches for `user`.
    pub fn code(&self, site: Site, user: &SocialUser) -> String {
        let code = random_alphanumeric(20);
        self.shared
            .lock()
            .codes
            .insert(code.clone(), (site, user.clone()));
        code
    }

    /// A fresh code the WeChat server turns into `wechat_id`.
    pub fn wechat_code(&self, wechat_id: &str) -> String {
        let code = random_alphanumeric(6);
        self.shared
            .lock()
            .wechat_codes
            .insert(code.clone(), wechat_id.to_string());
        code
    }

    /// Every token request so far.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.lock().token_requests.clone()
    }

    /// How many requests the WeChat server received.
    pub fn wechat_requests(&self) -> usize {
        self.shared.lock().wechat_requests
    }
}

/// An OAuth error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// Checks a token request of `site` and redeems its code: the credentials, the grant type
/// (when the site takes one), the redirect URI and the code must all be right.
fn redeem(shared: &Shared, site: Site, fields: HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    inner.token_requests.push(TokenRequest {
        site,
        fields: fields.clone(),
    });
    let field = |name: &str| fields.get(name).map(String::as_str);
    if field("client_id") != Some(shared.client_id.as_str())
        || field("client_secret") != Some(shared.client_secret.as_str())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if site != Site::GitHub && field("grant_type") != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    if field("redirect_uri").map(str::to_string) != shared.redirect_uri(site) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match",
        );
    }
    let code = field("code").unwrap_or("").to_string();
    match inner.codes.remove(&code) {
        Some((issued_for, user)) if issued_for == site => {
            let token = random_alphanumeric(32);
            inner.access_tokens.insert(token.clone(), (site, user));
            axum::Json(json!({
                "access_token": token,
                "token_type": "bearer",
                "scope": "identify",
            }))
            .into_response()
        }
        // GitHub answers a bad code with HTTP 200 and an error.
        _ if site == Site::GitHub => axum::Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
        }))
        .into_response(),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"code\" in request.",
        ),
    }
}

/// The account of the request's bearer token at `site`.
fn bearer_user(shared: &Shared, site: Site, headers: &HeaderMap) -> Option<SocialUser> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    match shared.lock().access_tokens.get(token) {
        Some((issued_for, user)) if *issued_for == site => Some(user.clone()),
        _ => None,
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "message": "401: Unauthorized" })),
    )
        .into_response()
}

async fn github_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_request = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let fields: HashMap<String, Value> = serde_json::from_slice(&body).unwrap_or_default();
    let fields = fields
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
        .collect();
    if !json_request || !wants_json {
        return (
            StatusCode::BAD_REQUEST,
            "expected a JSON request and answer",
        )
            .into_response();
    }
    redeem(&shared, Site::GitHub, fields)
}

async fn github_user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !headers.contains_key(header::USER_AGENT) {
        return (
            StatusCode::FORBIDDEN,
            "Request forbidden by administrative rules. Please make sure your request has a \
             User-Agent header",
        )
            .into_response();
    }
    let Some(user) = bearer_user(&shared, Site::GitHub, &headers) else {
        return unauthorized();
    };
    axum::Json(json!({
        "id": user.id,
        "login": user.username,
        "name": user.name,
        "email": user.email,
    }))
    .into_response()
}

async fn discord_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let fields = url::form_urlencoded::parse(&body).into_owned().collect();
    redeem(&shared, Site::Discord, fields)
}

async fn discord_user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, Site::Discord, &headers) else {
        return unauthorized();
    };
    axum::Json(json!({
        "id": user.id.to_string(),
        "username": user.username,
        "global_name": user.name,
        "discriminator": "0",
    }))
    .into_response()
}

async fn linuxdo_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fields: HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    // LinuxDO takes the client's credentials in HTTP Basic only.
    fields.remove("client_id");
    fields.remove("client_secret");
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    if let Some((id, secret)) = basic.as_deref().and_then(|v| v.split_once(':')) {
        fields.insert("client_id".into(), id.to_string());
        fields.insert("client_secret".into(), secret.to_string());
    }
    redeem(&shared, Site::LinuxDo, fields)
}

async fn linuxdo_user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, Site::LinuxDo, &headers) else {
        return unauthorized();
    };
    axum::Json(json!({
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "active": true,
        "trust_level": user.trust_level,
        "silenced": false,
    }))
    .into_response()
}

async fn wechat_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = shared.lock();
    inner.wechat_requests += 1;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let answer = if token != shared.wechat_token {
        json!({ "success": false, "message": "Unauthorized access token", "data": "" })
    } else {
        match inner
            .wechat_codes
            .remove(query.get("code").map_or("", String::as_str))
        {
            Some(id) => json!({ "success": true, "message": "", "data": id }),
            None => json!({ "success": false, "message": "Invalid or expired code", "data": "" }),
        }
    };
    axum::Json(answer).into_response()
}

/// The query Telegram's login widget hands the site for user `id` at unix time `auth_date`,
/// signed with `bot_token` as Telegram signs it.
pub fn telegram_widget(bot_token: &str, id: i64, username: &str, auth_date: i64) -> String {
    let fields = [
        ("auth_date", auth_date.to_string()),
        ("first_name", format!("{username} first")),
        ("id", id.to_string()),
        ("username", username.to_string()),
    ];
    let check_string = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let hash = hmac_sha256_hex(
        &Sha256::digest(bot_token.as_bytes()),
        check_string.as_bytes(),
    );
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &fields {
        query.append_pair(key, value);
    }
    query.append_pair("hash", &hash);
    query.finish()
}
