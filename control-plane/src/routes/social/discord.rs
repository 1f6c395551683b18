//! Discord's back channel, as new-api's `DiscordProvider` talks to it: the code is redeemed at
//! `{discord_api_url}/oauth2/token` (a form with the client's credentials and the redirect URI
//! of the console's page, `ServerAddress/oauth/discord`), and `{discord_api_url}/users/@me`
//! names the account: its snowflake `id`, `username` and `global_name`.

use super::callback::Credentials;
use super::{Account, endpoint, token_request, user_document};
use crate::app::App;
use crate::error::ApiError;
use crate::routes::custom_oauth::claims::text_at;
use crate::routes::custom_oauth::exchange::{ProviderCall, tokens};

const CALL: ProviderCall<'static> = ProviderCall { name: "Discord" };

/// The Discord account behind `code`, which the provider sent back to `redirect_uri`.
pub async fn account(
    app: &App,
    credentials: &Credentials,
    code: &str,
    redirect_uri: &str,
) -> Result<Account, ApiError> {
    let api = &app.config.control_plane.discord_api_url;
    let request = token_request(api, "/oauth2/token")?.form(&[
        ("client_id", credentials.client_id.as_str()),
        ("client_secret", credentials.client_secret.as_str()),
        ("code", code),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
    ]);
    let tokens = tokens(&CALL, request).await?;
    let user = user_document(&CALL, &endpoint(api, "/users/@me"), &tokens.access_token).await?;
    let username = text_at(&user, "username");
    if username.is_empty() {
        return Err(ApiError::invalid("Discord returned no username"));
    }
    Ok(Account {
        id: text_at(&user, "id"),
        legacy_id: String::new(),
        username,
        display_name: text_at(&user, "global_name"),
        email: String::new(),
    })
}
