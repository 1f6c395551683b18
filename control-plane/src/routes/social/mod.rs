//! new-api's built-in third-party sign-ins besides OIDC, each in its own format:
//!
//! - GitHub, Discord and LinuxDO: the authorization code flow. The console takes a state from
//!   `GET /api/oauth/state` (a signed-in caller's binds instead of signing in), sends the
//!   browser to the provider, and finishes with `GET /api/oauth/github|discord|linuxdo?code=
//!   &state=` ([`callback`]), which redeems the code ([`github`], [`discord`], [`linuxdo`]).
//! - WeChat ([`wechat`]): a code the person got from the site's WeChat official account, which
//!   the operator's WeChat server turns into their id: `GET /api/oauth/wechat?code=` signs in,
//!   `POST /api/oauth/wechat/bind` binds.
//! - Telegram ([`telegram`]): the data of Telegram's login widget, signed with the bot's
//!   token: `GET /api/oauth/telegram/login` signs in, `GET /api/oauth/telegram/bind` binds.
//!
//! Each keeps the provider's id of a person in its `users` column, and signs in, signs up and
//! binds through the OIDC module's machinery for such providers ([`Slot`]). The provider's
//! servers are `control_plane.github_url`, `github_api_url`, `discord_api_url` and
//! `linuxdo_url` (the operator's WeChat server is the option `WeChatServerAddress`).

pub(super) mod callback;
pub(super) mod discord;
pub(super) mod github;
pub(super) mod linuxdo;
pub(super) mod telegram;
pub(super) mod wechat;

use crate::app::App;
use crate::error::ApiError;
use crate::routes::custom_oauth::exchange::{ProviderCall, fetch_json};
use crate::routes::oidc::settings::client;
use crate::routes::oidc::sign_in_id::{Person, Slot};
use crate::routes::oidc::signup::{display_name, usable_username};
use pylon_shared::db::BindingColumn;
use reqwest::header::ACCEPT;
use serde_json::Value;

impl Slot {
    pub const GITHUB: Self = Self {
        name: "GitHub",
        column: BindingColumn::GITHUB,
        method: "github",
    };
    pub const DISCORD: Self = Self {
        name: "Discord",
        column: BindingColumn::DISCORD,
        method: "discord",
    };
    pub const LINUXDO: Self = Self {
        name: "Linux DO",
        column: BindingColumn::LINUXDO,
        method: "linuxdo",
    };
    pub const WECHAT: Self = Self {
        name: "WeChat",
        column: BindingColumn::WECHAT,
        method: "wechat",
    };
    pub const TELEGRAM: Self = Self {
        name: "Telegram",
        column: BindingColumn::TELEGRAM,
        method: "telegram",
    };
}

/// new-api's refusal while a sign-in method is off.
fn not_enabled(slot: &Slot) -> ApiError {
    ApiError::invalid(format!(
        "The administrator has not enabled login and registration via {}",
        slot.name
    ))
}

/// An account at a provider, as it describes it.
#[derive(Debug, Clone, Default)]
pub struct Account {
    /// The provider's stable id of the account.
    pub id: String,
    /// An id an older release stored instead (see [`Person::legacy_id`]).
    pub legacy_id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
}

/// The longest provider id stored (the `users` columns are VARCHAR(128)).
const MAX_ID_CHARS: usize = 128;

impl Account {
    /// The person to sign in, sign up or bind, named as new-api names its sign-ups: the
    /// provider's username when it is free, else `{prefix}{the next user id}`; the display
    /// name, else the username, else "{provider} User".
    async fn person(self, app: &App, slot: &Slot, prefix: &str) -> Result<Person, ApiError> {
        check_id(slot, &self.id)?;
        let mut usernames = Vec::new();
        if usable_username(&self.username) {
            usernames.push(self.username.clone());
        }
        usernames.push(format!("{prefix}_{}", app.db.max_user_id().await? + 1));
        Ok(Person {
            display_name: display_name(
                [self.display_name.as_str(), self.username.as_str()],
                &format!("{} User", slot.name),
            ),
            id: self.id,
            legacy_id: self.legacy_id,
            usernames,
            username_stem: prefix.to_string(),
            email: self.email,
        })
    }
}

/// The document about the signed-in person at `url`, read with their access token.
async fn user_document(
    call: &ProviderCall<'_>,
    url: &str,
    access_token: &str,
) -> Result<Value, ApiError> {
    fetch_json(
        call,
        "user info",
        url,
        Some(("authorization", &format!("Bearer {access_token}"))),
    )
    .await
    .map_err(|e| ApiError::invalid(e.to_string()))
}

/// Refuses an id a provider gave that cannot be stored: none, 0 (new-api refuses GitHub's and
/// LinuxDO's id 0 as missing), or one too long for the column.
fn check_id(slot: &Slot, id: &str) -> Result<(), ApiError> {
    if matches!(id, "" | "0") || id.chars().count() > MAX_ID_CHARS {
        return Err(ApiError::invalid(format!(
            "{} returned no usable user id",
            slot.name
        )));
    }
    Ok(())
}

/// A POST of a code to the token endpoint at `path` under `base`, asking for a JSON answer.
fn token_request(base: &str, path: &str) -> Result<reqwest::RequestBuilder, ApiError> {
    Ok(client()?
        .post(endpoint(base, path))
        .header(ACCEPT, "application/json"))
}

/// `path` under the base URL `base` (with or without a trailing slash).
fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}
