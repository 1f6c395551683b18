//! LinuxDO Connect's back channel, as new-api's `LinuxDOProvider` talks to it: the code is
//! redeemed at `{linuxdo_url}/oauth2/token` (the client's credentials in HTTP Basic, a form
//! with the redirect URI), and `{linuxdo_url}/api/user` names the account: its numeric `id`,
//! `username`, `name` and forum `trust_level`, which must reach the option
//! `LinuxDOMinimumTrustLevel`.

use super::callback::Credentials;
use super::{Account, endpoint, token_request, user_document};
use crate::app::App;
use crate::error::ApiError;
use crate::routes::custom_oauth::claims::text_at;
use crate::routes::custom_oauth::exchange::{ProviderCall, basic_auth, tokens};
use reqwest::header::AUTHORIZATION;

const CALL: ProviderCall<'static> = ProviderCall { name: "Linux DO" };

/// The LinuxDO account behind `code`; `redirect_uri` is repeated to the token endpoint.
pub async fn account(
    app: &App,
    credentials: &Credentials,
    code: &str,
    redirect_uri: &str,
) -> Result<Account, ApiError> {
    let base = &app.config.control_plane.linuxdo_url;
    let request = token_request(base, "/oauth2/token")?
        .header(
            AUTHORIZATION,
            basic_auth(&credentials.client_id, &credentials.client_secret),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ]);
    let tokens = tokens(&CALL, request).await?;
    let user = user_document(&CALL, &endpoint(base, "/api/user"), &tokens.access_token).await?;
    let required = app
        .settings
        .now()
        .number("LinuxDOMinimumTrustLevel")
        .unwrap_or(0.0);
    let level = user["trust_level"].as_f64().unwrap_or(0.0);
    if level < required {
        return Err(ApiError::invalid(format!(
            "Your Linux DO trust level ({level}) is below the level this site requires ({required})"
        )));
    }
    Ok(Account {
        id: text_at(&user, "id"),
        legacy_id: String::new(),
        username: text_at(&user, "username"),
        display_name: text_at(&user, "name"),
        email: String::new(),
    })
}
