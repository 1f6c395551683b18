//! Flows in progress: each `state` maps, in the shared cache, to what the callback needs (the
//! PKCE verifier, the nonce, the redirect URI, and whether it signs in or binds whom). A state
//! is redeemed at most once, expires after [`STATE_TTL`], and is honoured only in the browser
//! that started the flow (it holds the state in an HttpOnly cookie), so that nobody can make a
//! victim's browser finish a flow the attacker started (login CSRF, binding confusion).

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pylon_shared::crypto::{constant_time_eq, random_alphanumeric};
use pylon_shared::db::now_secs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long a started flow may take (signing in at the provider included).
const STATE_TTL: Duration = Duration::from_secs(600);
/// Length of a state (alphanumeric).
const STATE_LEN: usize = 32;
/// Length of a PKCE code verifier (RFC 7636 allows 43 to 128 unreserved characters).
const VERIFIER_LEN: usize = 64;
/// The cookie tying a state to the browser that started it.
const COOKIE_NAME: &str = "oidc_state";

pub const INVALID_STATE: &str = "OAuth state is invalid or expired, please try again";

/// What a finished flow does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", content = "user_id", rename_all = "lowercase")]
pub enum Purpose {
    /// Sign in (or sign up) as the provider's subject.
    Login,
    /// Bind the provider's subject to this user.
    Bind(i64),
}

/// A started flow, as stored under its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    #[serde(flatten)]
    pub purpose: Purpose,
    /// The PKCE verifier, when the authorization request carried its challenge.
    pub code_verifier: Option<String>,
    /// The nonce sent in the authorization request, checked against the ID token.
    pub nonce: Option<String>,
    /// The redirect URI of the authorization request; the token request repeats it. Empty for
    /// a bare state (`GET /api/oauth/state`), whose console builds the authorization request
    /// itself: it then sends the browser back to its page of the provider that redeems the
    /// state (`ServerAddress/oauth/{provider}`).
    pub redirect_uri: String,
    /// The provider whose authorization request this flow made (`oidc`, or a custom
    /// provider's slug); `None` for a bare state, which any provider may redeem.
    #[serde(default)]
    pub provider: Option<String>,
    /// Unix time after which the state is refused.
    pub expires_at: i64,
    /// The invitation code a sign-up through this flow is credited to (new-api's `aff` of
    /// `GET /api/oauth/state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aff: Option<String>,
}

/// A flow just started.
pub struct Started {
    pub state: String,
    pub pending: Pending,
}

impl Started {
    /// The PKCE challenge (S256) of the verifier, if the flow uses PKCE.
    pub fn code_challenge(&self) -> Option<String> {
        self.pending
            .code_verifier
            .as_deref()
            .map(|verifier| URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    /// The `Set-Cookie` value that ties the state to this browser.
    pub fn cookie(&self, secure: bool) -> Result<HeaderValue, ApiError> {
        cookie(&self.state, STATE_TTL.as_secs(), secure)
    }
}

/// How a flow's authorization request is made.
pub enum Request {
    /// By the console, from a bare state: no PKCE, any provider may redeem it.
    Console,
    /// Here, for `provider`, coming back to `redirect_uri`, with PKCE and a nonce.
    Full {
        provider: &'static str,
        redirect_uri: String,
    },
}

/// Starts a flow: a fresh state, stored with what its callback will need.
pub async fn begin(app: &App, purpose: Purpose, request: Request) -> Result<Started, ApiError> {
    begin_invited(app, purpose, request, None).await
}

/// [`begin`], for a sign-up credited to the invitation code `aff`.
pub async fn begin_invited(
    app: &App,
    purpose: Purpose,
    request: Request,
    aff: Option<String>,
) -> Result<Started, ApiError> {
    let state = random_alphanumeric(STATE_LEN);
    let (provider, redirect_uri, pkce) = match request {
        Request::Console => (None, String::new(), false),
        Request::Full {
            provider,
            redirect_uri,
        } => (Some(provider.to_string()), redirect_uri, true),
    };
    let pending = Pending {
        purpose,
        code_verifier: pkce.then(|| random_alphanumeric(VERIFIER_LEN)),
        nonce: pkce.then(|| random_alphanumeric(STATE_LEN)),
        redirect_uri,
        provider,
        expires_at: now_secs() + STATE_TTL.as_secs() as i64,
        aff,
    };
    let value = serde_json::to_string(&pending).map_err(|e| ApiError::Internal(e.into()))?;
    app.cache.set(&entry_key(&state), &value, STATE_TTL).await?;
    Ok(Started { state, pending })
}

/// This site's public address (`ServerAddress`, without a trailing slash): every redirect URI
/// starts with it.
pub fn server_address(app: &App) -> Result<String, ApiError> {
    let snapshot = app.settings.now();
    let address = snapshot.text("ServerAddress").trim().trim_end_matches('/');
    if address.is_empty() {
        return Err(ApiError::invalid(
            "External sign-in is not configured: set ServerAddress to this site's public address",
        ));
    }
    Ok(address.to_string())
}

/// Whether the site at `address` is served over HTTPS (the state cookie is then `Secure`).
pub fn is_https(address: &str) -> bool {
    address.starts_with("https://")
}

/// Redeems `state` for the browser whose request carries `headers`. Unknown, expired, already
/// redeemed, or started in another browser: refused, and the state stays as it was.
pub async fn take(app: &App, headers: &HeaderMap, state: &str) -> Result<Pending, ApiError> {
    let well_formed = state.len() == STATE_LEN && state.bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Err(ApiError::invalid(INVALID_STATE));
    }
    let ours = cookie_state(headers)
        .is_some_and(|cookie| constant_time_eq(cookie.as_bytes(), state.as_bytes()));
    if !ours {
        return Err(ApiError::invalid(
            "OAuth state does not belong to this browser, please start again",
        ));
    }
    let key = entry_key(state);
    let Some(stored) = app.cache.get(&key).await? else {
        return Err(ApiError::invalid(INVALID_STATE));
    };
    // The first redeemer wins, across every control-plane node: the counter is atomic.
    if app
        .cache
        .hit(&format!("oidc:used:{state}"), STATE_TTL)
        .await?
        != 1
    {
        return Err(ApiError::invalid(INVALID_STATE));
    }
    app.cache.delete(&key).await?;
    let pending: Pending =
        serde_json::from_str(&stored).map_err(|e| ApiError::Internal(e.into()))?;
    if pending.expires_at <= now_secs() {
        return Err(ApiError::invalid(INVALID_STATE));
    }
    Ok(pending)
}

impl Pending {
    /// Whether `provider` may redeem this flow: its own, or a bare state's.
    pub fn is_for(&self, provider: &str) -> bool {
        self.provider.as_deref().is_none_or(|own| own == provider)
    }
}

/// The `Set-Cookie` value that removes the state cookie.
pub fn clearing_cookie(secure: bool) -> Result<HeaderValue, ApiError> {
    cookie("", 0, secure)
}

fn entry_key(state: &str) -> String {
    format!("oidc:state:{state}")
}

fn cookie(value: &str, max_age: u64, secure: bool) -> Result<HeaderValue, ApiError> {
    // Lax, not Strict: the provider's redirect back to the site is a cross-site navigation.
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

fn cookie_state(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_is_the_rfc_7636_s256_of_the_verifier() {
        // The example of RFC 7636, appendix B.
        let started = Started {
            state: String::new(),
            pending: Pending {
                purpose: Purpose::Login,
                code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
                nonce: None,
                redirect_uri: String::new(),
                provider: None,
                expires_at: 0,
                aff: None,
            },
        };
        assert_eq!(
            started.code_challenge().as_deref(),
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        );
    }

    #[test]
    fn purpose_round_trips() {
        for purpose in [Purpose::Login, Purpose::Bind(7)] {
            let pending = Pending {
                purpose,
                code_verifier: None,
                nonce: None,
                redirect_uri: "https://example.com/oauth/oidc".into(),
                provider: Some("oidc".into()),
                expires_at: 1,
                aff: Some("Ab12".into()),
            };
            let text = serde_json::to_string(&pending).unwrap();
            let back: Pending = serde_json::from_str(&text).unwrap();
            assert_eq!(back.purpose, purpose);
            assert_eq!(back.aff.as_deref(), Some("Ab12"));
        }
    }
}
