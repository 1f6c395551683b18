//! GitHub's back channel, as new-api's `GitHubProvider` talks to it: the code is redeemed at
//! `{github_url}/login/oauth/access_token` with the client's credentials in a JSON body (GitHub
//! needs no redirect URI there), and `{github_api_url}/user` names the account by its numeric
//! id. new-api once bound GitHub accounts by login name: that is the legacy id.

use super::callback::Credentials;
use super::{Account, endpoint, token_request, user_document};
use crate::app::App;
use crate::error::ApiError;
use crate::routes::custom_oauth::claims::text_at;
use crate::routes::custom_oauth::exchange::{ProviderCall, tokens};
use serde_json::json;

const CALL: ProviderCall<'static> = ProviderCall { name: "GitHub" };

/// The GitHub account behind `code`.
pub async fn account(
    app: &App,
    credentials: &Credentials,
    code: &str,
) -> Result<Account, ApiError> {
    let servers = &app.config.control_plane;
    let request = token_request(&servers.github_url, "/login/oauth/access_token")?.json(&json!({
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "code": code,
    }));
    let tokens = tokens(&CALL, request).await?;
    let user = user_document(
        &CALL,
        &endpoint(&servers.github_api_url, "/user"),
        &tokens.access_token,
    )
    .await?;
    let login = text_at(&user, "login");
    if login.is_empty() {
        return Err(ApiError::invalid("GitHub returned no login name"));
    }
    Ok(Account {
        id: text_at(&user, "id"),
        legacy_id: login.clone(),
        username: login,
        display_name: text_at(&user, "name"),
        email: text_at(&user, "email"),
    })
}
