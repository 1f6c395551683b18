//! A mock OIDC provider for the sign-in tests, on 127.0.0.1 and a free port: discovery, an
//! authorization endpoint that "signs in" a configurable subject at once and redirects back
//! with a code, a token endpoint that checks what a real provider checks (client secret,
//! redirect URI, single use of the code, the PKCE verifier against the S256 challenge), and a
//! user info endpoint. Failures can be injected: a refused sign-in, a failing token or user
//! info endpoint, a slow token endpoint.

use crate::mock_server::{self, MockServer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pylon_shared::crypto::random_alphanumeric;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The person the provider signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub sub: String,
    pub email: String,
    pub preferred_username: String,
    pub name: String,
}

impl Subject {
    /// A subject with every claim derived from `name`.
    pub fn named(name: &str) -> Self {
        Self {
            sub: format!("sub-{name}"),
            email: format!("{name}@idp.example"),
            preferred_username: name.to_string(),
            name: format!("{name} (IdP)"),
        }
    }
}

/// Injected behaviour.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// The authorization endpoint refuses (`error=access_denied`) instead of signing in.
    pub deny: bool,
    /// The authorization endpoint refuses requests without a PKCE challenge.
    pub require_pkce: bool,
    /// The token endpoint answers this status (with an OAuth error body) whatever it gets.
    pub token_status: Option<u16>,
    /// The token endpoint waits this long before answering.
    pub token_delay: Option<Duration>,
    /// The user info endpoint answers this status whatever it gets.
    pub userinfo_status: Option<u16>,
}

/// One request the authorization endpoint received.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// Where the authorization endpoint sent the browser.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The whole `Location`.
    pub location: String,
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Redirect {
    /// The `Location` without the redirect URI: `?code=..&state=..` (or the error), ready to be
    /// appended to a callback path.
    pub fn query(&self) -> String {
        self.location
            .split_once('?')
            .map(|(_, q)| format!("?{q}"))
            .unwrap_or_default()
    }
}

/// A code waiting to be redeemed.
#[derive(Debug, Clone)]
struct Grant {
    redirect_uri: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    subject: Subject,
}

struct Inner {
    subject: Subject,
    behaviour: Behaviour,
    authorizations: Vec<Authorization>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Subject>,
    token_requests: Vec<HashMap<String, String>>,
}

struct Shared {
    base_url: String,
    client_id: String,
    client_secret: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running mock provider; stops when dropped.
pub struct MockOidc {
    /// `http://127.0.0.1:<port>`, also the issuer.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: MockServer,
}

impl MockOidc {
    /// Starts a provider that knows one client.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let bound = mock_server::bind("OIDC provider").await;
        let base_url = bound.base_url.clone();
        let shared = Arc::new(Shared {
            base_url: base_url.clone(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            inner: Mutex::new(Inner {
                subject: Subject::named("alice"),
                behaviour: Behaviour::default(),
                authorizations: Vec::new(),
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                token_requests: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&shared));
        Self {
            base_url,
            shared,
            _server: bound.serve(router),
        }
    }

    /// The discovery document's URL (`oidc.well_known`).
    pub fn well_known_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.base_url)
    }

    /// The authorization endpoint.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.base_url)
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// The user info endpoint.
    pub fn userinfo_endpoint(&self) -> String {
        format!("{}/userinfo", self.base_url)
    }

    /// Who the next authorization signs in.
    pub fn set_subject(&self, subject: Subject) {
        self.shared.lock().subject = subject;
    }

    /// Changes the injected behaviour.
    pub fn set_behaviour(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.lock().behaviour);
    }

    /// Every authorization request so far.
    pub fn authorizations(&self) -> Vec<Authorization> {
        self.shared.lock().authorizations.clone()
    }

    /// Every token request so far, as form fields.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.shared.lock().token_requests.clone()
    }

    /// Opens `url` (an authorization URL) as the browser would, without following the
    /// redirect, and reads where it points.
    pub async fn authorize(&self, url: &str) -> Redirect {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = client.get(url).send().await.expect("authorize reachable");
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "the authorization endpoint did not redirect: {}",
            response.text().await.unwrap_or_default()
        );
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_string();
        let parsed = url::Url::parse(&location).expect("Location is a URL");
        let get = |name: &str| {
            parsed
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        Redirect {
            code: get("code"),
            state: get("state"),
            error: get("error"),
            error_description: get("error_description"),
            location,
        }
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let base = &shared.base_url;
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email"],
    }))
    .into_response()
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| query.get(name).cloned().unwrap_or_default();
    let record = Authorization {
        response_type: field("response_type"),
        client_id: field("client_id"),
        redirect_uri: field("redirect_uri"),
        scope: field("scope"),
        state: field("state"),
        nonce: query.get("nonce").cloned(),
        code_challenge: query.get("code_challenge").cloned(),
        code_challenge_method: query.get("code_challenge_method").cloned(),
    };
    let mut inner = shared.lock();
    inner.authorizations.push(record.clone());
    // Like a real provider: an unknown client or a missing redirect URI is shown to the user,
    // never redirected.
    if record.client_id != shared.client_id || url::Url::parse(&record.redirect_uri).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            "unknown client or bad redirect_uri",
        )
            .into_response();
    }
    let mut back = url::Url::parse(&record.redirect_uri).expect("checked above");
    let refusal = if inner.behaviour.deny {
        Some(("access_denied", "The user denied the request"))
    } else if record.response_type != "code" {
        Some(("unsupported_response_type", "Only code is supported"))
    } else if inner.behaviour.require_pkce && record.code_challenge.is_none() {
        Some(("invalid_request", "PKCE is required"))
    } else {
        None
    };
    {
        let mut pairs = back.query_pairs_mut();
        match refusal {
            Some((error, description)) => {
                pairs
                    .append_pair("error", error)
                    .append_pair("error_description", description);
            }
            None => {
                let code = random_alphanumeric(24);
                let grant = Grant {
                    redirect_uri: record.redirect_uri.clone(),
                    nonce: record.nonce.clone(),
                    code_challenge: record.code_challenge.clone(),
                    code_challenge_method: record.code_challenge_method.clone(),
                    subject: inner.subject.clone(),
                };
                inner.codes.insert(code.clone(), grant);
                pairs.append_pair("code", &code);
            }
        }
        pairs.append_pair("state", &record.state);
    }
    (StatusCode::FOUND, [(header::LOCATION, String::from(back))]).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let behaviour = {
        let mut inner = shared.lock();
        inner.token_requests.push(form.clone());
        inner.behaviour.clone()
    };
    if let Some(delay) = behaviour.token_delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = behaviour.token_status {
        let status = StatusCode::from_u16(status).expect("status");
        return oauth_error(status, "invalid_request", "Injected token endpoint failure");
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let (client_id, client_secret) = basic_credentials(&headers)
        .unwrap_or_else(|| (field("client_id").into(), field("client_secret").into()));
    if client_id != shared.client_id || client_secret != shared.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only authorization_code is supported",
        );
    }
    let mut inner = shared.lock();
    // Redeeming removes the code: a second use is refused.
    let Some(grant) = inner.codes.remove(field("code")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The code is invalid or was already used",
        );
    };
    if field("redirect_uri") != grant.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    let verifier = form.get("code_verifier");
    match (&grant.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let method = grant.code_challenge_method.as_deref().unwrap_or("plain");
            let computed = match method {
                "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
                _ => verifier.clone(),
            };
            if &computed != challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed: code_verifier does not match code_challenge",
                );
            }
        }
        (Some(_), None) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed: code_verifier is missing",
            );
        }
        // As Keycloak does: a verifier for a code issued without a challenge is an error.
        (None, Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE code verifier specified but challenge not present in authorization",
            );
        }
        (None, None) => {}
    }
    let access_token = random_alphanumeric(32);
    inner
        .access_tokens
        .insert(access_token.clone(), grant.subject.clone());
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": shared.base_url,
        "sub": grant.subject.sub,
        "aud": shared.client_id,
        "iat": now,
        "exp": now + 300,
        "email": grant.subject.email,
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    axum::Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid profile email",
        "id_token": id_token(&claims, &shared.client_secret),
    }))
    .into_response()
}

async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let inner = shared.lock();
    if let Some(status) = inner.behaviour.userinfo_status {
        let status = StatusCode::from_u16(status).expect("status");
        return (status, "injected user info failure").into_response();
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Some(subject) = inner.access_tokens.get(token) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Unknown access token",
        );
    };
    axum::Json(json!({
        "sub": subject.sub,
        "email": subject.email,
        "email_verified": true,
        "preferred_username": subject.preferred_username,
        "name": subject.name,
    }))
    .into_response()
}

/// `client_id:client_secret` from `Authorization: Basic`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// An ID token signed with HS256 and the client secret, as OIDC allows for confidential
/// clients.
fn id_token(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature =
        URL_SAFE_NO_PAD.encode(hmac_sha256(secret.as_bytes(), signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block_key = [0u8; BLOCK];
    if key.len() > BLOCK {
        block_key[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block_key.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::hmac_sha256;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
