//! The OIDC provider as the operator configured it: new-api's `oidc.*` options, with endpoints
//! missing from them read from the provider's discovery document (`oidc.well_known`).

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::crypto::sha256_hex;
use serde::Deserialize;
use std::sync::OnceLock;
use std::time::Duration;

/// How long a call to the provider may take (new-api uses 5 s).
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched discovery document is reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The largest answer read from the provider.
const MAX_PROVIDER_BODY: usize = 256 * 1024;

pub const NOT_ENABLED: &str = "The administrator has not enabled login and registration via OIDC";

/// The `oidc.*` options and the few site options the flow needs.
pub struct Settings {
    pub enabled: bool,
    pub client_id: String,
    pub client_secret: String,
    well_known: String,
    authorization_endpoint: String,
    token_endpoint: String,
    user_info_endpoint: String,
    /// `ServerAddress`, without a trailing slash.
    server_address: String,
    /// `RegisterEnabled` (new-api's default: on).
    pub register_enabled: bool,
    /// `QuotaForNewUser`.
    pub quota_for_new_user: i64,
}

/// The provider's three endpoints, all known.
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub user_info: String,
}

#[derive(Deserialize)]
struct Discovery {
    #[serde(default)]
    authorization_endpoint: String,
    #[serde(default)]
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: String,
}

impl Settings {
    /// Reads the current options.
    pub async fn load(app: &App) -> Result<Self, ApiError> {
        let snapshot = app.settings.now();
        let options = snapshot.stored();
        let text = |key: &str| options.get(key).map_or("", |v| v.trim()).to_string();
        let flag = |key: &str, default: bool| options.get(key).map_or(default, |v| v == "true");
        Ok(Self {
            enabled: flag("oidc.enabled", false),
            client_id: text("oidc.client_id"),
            client_secret: text("oidc.client_secret"),
            well_known: text("oidc.well_known"),
            authorization_endpoint: text("oidc.authorization_endpoint"),
            token_endpoint: text("oidc.token_endpoint"),
            user_info_endpoint: text("oidc.user_info_endpoint"),
            server_address: text("ServerAddress").trim_end_matches('/').to_string(),
            register_enabled: flag("RegisterEnabled", true),
            quota_for_new_user: text("QuotaForNewUser").parse().unwrap_or(0).max(0),
        })
    }

    /// Refuses when OIDC is off or lacks a client id.
    pub fn require_enabled(&self) -> Result<(), ApiError> {
        if !self.enabled {
            return Err(ApiError::invalid(NOT_ENABLED));
        }
        if self.client_id.is_empty() {
            return Err(ApiError::invalid(
                "OIDC is not configured: oidc.client_id is empty",
            ));
        }
        Ok(())
    }

    /// The redirect URI for a callback at `path`: `ServerAddress` + `path`, as new-api builds it.
    pub fn redirect_uri(&self, path: &str) -> Result<String, ApiError> {
        if self.server_address.is_empty() {
            return Err(ApiError::invalid(
                "OIDC is not configured: set ServerAddress to this site's public address",
            ));
        }
        Ok(format!("{}{path}", self.server_address))
    }

    /// Whether the site is served over HTTPS (the state cookie is then `Secure`).
    pub fn is_https(&self) -> bool {
        self.server_address.starts_with("https://")
    }

    /// The endpoints: those set in the options, the rest from the discovery document.
    pub async fn endpoints(&self, app: &App) -> Result<Endpoints, ApiError> {
        let mut endpoints = Endpoints {
            authorization: self.authorization_endpoint.clone(),
            token: self.token_endpoint.clone(),
            user_info: self.user_info_endpoint.clone(),
        };
        let complete = |e: &Endpoints| {
            !(e.authorization.is_empty() || e.token.is_empty() || e.user_info.is_empty())
        };
        if !complete(&endpoints) && !self.well_known.is_empty() {
            let found = discover(app, &self.well_known).await?;
            for (slot, value) in [
                (&mut endpoints.authorization, found.authorization_endpoint),
                (&mut endpoints.token, found.token_endpoint),
                (&mut endpoints.user_info, found.userinfo_endpoint),
            ] {
                if slot.is_empty() {
                    *slot = value.trim().to_string();
                }
            }
        }
        if !complete(&endpoints) {
            return Err(ApiError::invalid(
                "OIDC is not configured: set oidc.well_known or the authorization, token and \
                 user info endpoints",
            ));
        }
        for url in [
            &endpoints.authorization,
            &endpoints.token,
            &endpoints.user_info,
        ] {
            http_url(url)?;
        }
        Ok(endpoints)
    }
}

/// `url`, parsed, when it is an absolute http(s) URL.
pub fn http_url(url: &str) -> Result<url::Url, ApiError> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(parsed),
        _ => Err(ApiError::invalid(format!(
            "OIDC is not configured: {url:?} is not an http(s) URL"
        ))),
    }
}

/// The provider's discovery document, cached for a while in the shared cache.
async fn discover(app: &App, well_known: &str) -> Result<Discovery, ApiError> {
    let key = format!("oidc:discovery:{}", sha256_hex(well_known.as_bytes()));
    if let Some(cached) = app.cache.get(&key).await?
        && let Ok(found) = serde_json::from_str::<Discovery>(&cached)
    {
        return Ok(found);
    }
    let failed = || ApiError::invalid("Cannot read the OIDC provider's discovery document");
    let response = client()?
        .get(http_url(well_known)?)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| {
            tracing::warn!(%error, "OIDC discovery failed");
            failed()
        })?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), "OIDC discovery failed");
        return Err(failed());
    }
    let body = read_body(response).await.map_err(|_| failed())?;
    let found: Discovery = serde_json::from_slice(&body).map_err(|_| failed())?;
    let text = String::from_utf8_lossy(&body);
    app.cache.set(&key, &text, DISCOVERY_TTL).await?;
    Ok(found)
}

/// The HTTP client for calls to the provider: short timeouts, no redirects followed.
pub fn client() -> Result<&'static reqwest::Client, ApiError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    // GitHub's API refuses requests without a User-Agent.
    let built = reqwest::Client::builder()
        .user_agent(format!("Pylon/{}", pylon_shared::VERSION))
        .timeout(PROVIDER_TIMEOUT)
        .connect_timeout(PROVIDER_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(CLIENT.get_or_init(|| built))
}

/// The body of a provider's answer, refusing one larger than [`MAX_PROVIDER_BODY`].
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_PROVIDER_BODY {
            // Treat an oversized answer like an unreadable one.
            body.clear();
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
