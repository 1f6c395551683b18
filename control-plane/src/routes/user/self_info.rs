//! `GET /api/user/self`: the caller's account, with new-api's field list (never the password
//! hash or the access token).

use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use pylon_shared::roles::{ROLE_ADMIN, ROLE_ROOT};
use serde_json::{Value, json};

pub async fn get_self(AuthUser { user, .. }: AuthUser) -> ApiResult {
    let permissions = match user.role {
        r if r >= ROLE_ROOT => json!({ "sidebar_settings": false, "sidebar_modules": {} }),
        r if r >= ROLE_ADMIN => {
            json!({ "sidebar_settings": true, "sidebar_modules": { "admin": { "setting": false } } })
        }
        _ => json!({ "sidebar_settings": true, "sidebar_modules": { "admin": false } }),
    };
    let sidebar_modules: Value = serde_json::from_str(&user.setting)
        .ok()
        .and_then(|s: Value| s.get("sidebar_modules").cloned())
        .unwrap_or(Value::String(String::new()));
    Ok(envelope::ok(json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "email": user.email,
        "github_id": user.github_id,
        "discord_id": user.discord_id,
        "oidc_id": user.oidc_id,
        "wechat_id": user.wechat_id,
        "telegram_id": user.telegram_id,
        "linux_do_id": user.linux_do_id,
        "group": user.group,
        "quota": user.quota,
        "used_quota": user.used_quota,
        "request_count": user.request_count,
        "aff_code": user.aff_code.unwrap_or_default(),
        "aff_count": user.aff_count,
        "aff_quota": user.aff_quota,
        "aff_history_quota": user.aff_history_quota,
        "inviter_id": user.inviter_id,
        "setting": user.setting,
        "stripe_customer": user.stripe_customer,
        "sidebar_modules": sidebar_modules,
        "permissions": permissions,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    })))
}
