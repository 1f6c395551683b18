//! `GET /api/oauth/github|discord|linuxdo?code=&state=` (new-api's `HandleOAuth` for its
//! built-in providers; the console calls it from its `/oauth/{provider}` page): refused while
//! the provider is off (before the state is spent), then the state is redeemed (refused: HTTP
//! 403), the code redeemed at the provider, and the person signed in, signed up (when
//! registration is open) or bound to the signed-in caller who started the flow. Limited per
//! client IP like logins.

use super::{Account, discord, github, linuxdo, not_enabled};
use crate::app::{App, AppState};
use crate::client_ip::ClientIp;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit;
use crate::routes::custom_oauth::account::Client;
use crate::routes::custom_oauth::redeem::Redeemed;
use crate::routes::oidc::pending::Purpose;
use crate::routes::oidc::sign_in_id::Slot;
use crate::routes::oidc::{bind, login};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// The built-in providers of the authorization code flow.
#[derive(Debug, Clone, Copy)]
enum Provider {
    GitHub,
    Discord,
    LinuxDo,
}

/// A provider's OAuth client, from its options.
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

impl Provider {
    /// Its name in paths, and the prefix of the usernames new-api gives its sign-ups.
    fn slug(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Discord => "discord",
            Self::LinuxDo => "linuxdo",
        }
    }

    fn slot(self) -> Slot {
        match self {
            Self::GitHub => Slot::GITHUB,
            Self::Discord => Slot::DISCORD,
            Self::LinuxDo => Slot::LINUXDO,
        }
    }

    /// new-api's options: the switch, the client id and the client secret.
    fn options(self) -> [&'static str; 3] {
        match self {
            Self::GitHub => ["GitHubOAuthEnabled", "GitHubClientId", "GitHubClientSecret"],
            Self::Discord => [
                "discord.enabled",
                "discord.client_id",
                "discord.client_secret",
            ],
            Self::LinuxDo => [
                "LinuxDOOAuthEnabled",
                "LinuxDOClientId",
                "LinuxDOClientSecret",
            ],
        }
    }

    /// The client, while the provider is on and has one.
    fn credentials(self, app: &App) -> Result<Credentials, ApiError> {
        let options = app.settings.now();
        let [enabled, client_id, client_secret] = self.options();
        if !options.flag(enabled) {
            return Err(not_enabled(&self.slot()));
        }
        let credentials = Credentials {
            client_id: options.text(client_id).trim().to_string(),
            client_secret: options.text(client_secret).trim().to_string(),
        };
        if credentials.client_id.is_empty() || credentials.client_secret.is_empty() {
            return Err(ApiError::invalid(format!(
                "{} sign-in is not configured: set {client_id} and {client_secret}",
                self.slot().name
            )));
        }
        Ok(credentials)
    }

    /// The account the provider vouches for behind `code`.
    async fn account(
        self,
        app: &App,
        credentials: &Credentials,
        code: &str,
        redeemed: &Redeemed,
    ) -> Result<Account, ApiError> {
        match self {
            Self::GitHub => github::account(app, credentials, code).await,
            Self::Discord => {
                let redirect_uri = redeemed.redirect_uri(self.slug());
                discord::account(app, credentials, code, &redirect_uri).await
            }
            Self::LinuxDo => {
                // new-api names its own callback route here (LinuxDO Connect's registered
                // redirect URI decides where the browser went).
                let redirect_uri = format!("{}/api/oauth/linuxdo", redeemed.address);
                linuxdo::account(app, credentials, code, &redirect_uri).await
            }
        }
    }
}

pub async fn github(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    callback(Provider::GitHub, &app, ip, &headers, query).await
}

pub async fn discord(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    callback(Provider::Discord, &app, ip, &headers, query).await
}

pub async fn linuxdo(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    callback(Provider::LinuxDo, &app, ip, &headers, query).await
}

async fn callback(
    provider: Provider,
    app: &App,
    ip: IpAddr,
    headers: &HeaderMap,
    query: Option<String>,
) -> Result<Response, Response> {
    rate_limit::login_attempt(app, ip)
        .await
        .map_err(IntoResponse::into_response)?;
    let credentials = provider
        .credentials(app)
        .map_err(IntoResponse::into_response)?;
    let redeemed = Redeemed::take(app, headers, query).await?;
    // The state is spent from here on, whatever happens.
    let ip = ip.to_string();
    let client = Client::of(&ip, headers);
    let outcome = finish(app, provider, &credentials, &redeemed, &client).await;
    Ok(redeemed.end(outcome))
}

async fn finish(
    app: &App,
    provider: Provider,
    credentials: &Credentials,
    redeemed: &Redeemed,
    client: &Client<'_>,
) -> ApiResult {
    let slot = provider.slot();
    let code = redeemed.code(slot.name, provider.slug())?;
    let person = provider
        .account(app, credentials, code, redeemed)
        .await?
        .person(app, &slot, provider.slug())
        .await?;
    match redeemed.pending.purpose {
        Purpose::Login => {
            let aff = redeemed.pending.aff.as_deref();
            login::finish(app, &slot, &person, client, aff).await
        }
        Purpose::Bind(user_id) => {
            bind::finish(app, &slot, user_id, &person).await?;
            Ok(bind::bound())
        }
    }
}
