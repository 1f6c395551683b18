//! WeChat sign-in as new-api does it: the person sends a keyword to the site's WeChat official
//! account and gets a code back; the operator's WeChat server (option `WeChatServerAddress`,
//! authenticated with `WeChatServerToken` in `Authorization`) turns that code into their
//! WeChat id at `GET /api/wechat/user?code=`, answering `{"success", "message", "data": id}`.
//!
//! - `GET /api/oauth/wechat?code=`: signs in as the account holding the id, or signs up
//!   (`wechat_{next id}`, "WeChat User") when registration is open.
//! - `POST /api/oauth/wechat/bind` `{"code"}` (the signed-in caller): binds the id, unless
//!   another account holds it; new-api's answer is `{"success": true, "message": ""}`.
//!
//! Both are refused while `WeChatAuthEnabled` is off, and limited per client IP like logins.

use super::{Account, check_id, not_enabled};
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::routes::custom_oauth::account::Client;
use crate::routes::custom_oauth::exchange::{ProviderCall, fetch_json};
use crate::routes::oidc::sign_in_id::{Person, Slot};
use crate::routes::oidc::{bind, login};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use std::net::IpAddr;

const CALL: ProviderCall<'static> = ProviderCall {
    name: "the WeChat server",
};

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query.unwrap_or_default();
    let code = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let id = wechat_id(&app, ip, &code).await?;
    let person = Account {
        id,
        ..Account::default()
    }
    .person(&app, &Slot::WECHAT, "wechat")
    .await?;
    let ip = ip.to_string();
    // WeChat's sign-in carries no flow state, hence no invitation code.
    login::finish(
        &app,
        &Slot::WECHAT,
        &person,
        &Client::of(&ip, &headers),
        None,
    )
    .await
}

/// new-api's request to bind.
#[derive(Deserialize)]
pub struct BindRequest {
    #[serde(default)]
    code: String,
}

pub async fn bind(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser { user }: AuthUser,
    ApiJson(request): ApiJson<BindRequest>,
) -> ApiResult {
    let person = Person {
        id: wechat_id(&app, ip, &request.code).await?,
        ..Person::default()
    };
    bind::finish(&app, &Slot::WECHAT, user.id, &person).await?;
    Ok(envelope::ok_message(""))
}

/// The WeChat id behind `code`, as the operator's WeChat server tells it.
async fn wechat_id(app: &App, ip: IpAddr, code: &str) -> Result<String, ApiError> {
    rate_limit::login_attempt(app, ip).await?;
    let options = app.settings.now();
    if !options.flag("WeChatAuthEnabled") {
        return Err(not_enabled(&Slot::WECHAT));
    }
    let code = code.trim();
    if code.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: code is missing"));
    }
    let server = options
        .text("WeChatServerAddress")
        .trim()
        .trim_end_matches('/');
    if server.is_empty() {
        return Err(ApiError::invalid(
            "WeChat sign-in is not configured: set WeChatServerAddress",
        ));
    }
    let mut url = url::Url::parse(&format!("{server}/api/wechat/user"))
        .map_err(|_| ApiError::invalid("WeChatServerAddress is not a valid URL"))?;
    url.query_pairs_mut().append_pair("code", code);
    let answer = fetch_json(
        &CALL,
        "WeChat id",
        url.as_str(),
        Some(("authorization", options.text("WeChatServerToken").trim())),
    )
    .await
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    if answer["success"] != true {
        let message = answer["message"].as_str().unwrap_or("").trim();
        return Err(ApiError::invalid(if message.is_empty() {
            "The WeChat server refused the code".to_string()
        } else {
            message.chars().take(200).collect()
        }));
    }
    let id = answer["data"].as_str().unwrap_or("").trim();
    if id.is_empty() {
        return Err(ApiError::invalid(
            "The verification code is wrong or has expired",
        ));
    }
    check_id(&Slot::WECHAT, id)?;
    Ok(id.to_string())
}
