//! `POST /api/user/oidc/bind-url` (seed 001): the authorization URL that binds the provider
//! account to the signed-in caller's. The provider comes back to `/auth/callback`.

use super::SERVER_CALLBACK_PATH;
use super::pending::Purpose;
use super::start::authorization;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::client_ip::ClientIp;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn bind_url(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser { user }: AuthUser,
) -> ApiResult {
    authorization(&app, ip, Purpose::Bind(user.id), SERVER_CALLBACK_PATH).await
}
