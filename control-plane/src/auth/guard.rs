//! The route table's guard: who may call a route ([`Access`]), checked on every call before
//! the handler runs. It also refuses a path whose `{id}` is not a number as an unknown route,
//! so that `/api/user/<word>` is never taken for the user-by-id route. Every change asked of an
//! administrator's route (a method other than GET) is written to the audit log once the
//! handler answered: who, the route and path, from where, and whether it succeeded.

use super::{AuthUser, authenticate};
use crate::app::AppState;
use crate::client_ip::ClientIp;
use crate::error::ApiError;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pylon_shared::db::{AuditEntry, now_secs};
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT};

/// Who may call a route (new-api's `UserAuth`, `AdminAuth`, `RootAuth`, or nobody in particular).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone; the handler may still look for a signed-in caller (`MaybeUser`) or check a
    /// credential of its own (an `sk-` key, a gateway signature).
    Public,
    /// A signed-in, enabled user.
    User,
    /// An administrator (role 10 or more).
    Admin,
    /// The root user (role 100).
    Root,
}

impl Access {
    /// The name the route table snapshot shows.
    pub fn name(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::User => "user",
            Access::Admin => "admin",
            Access::Root => "root",
        }
    }

    fn min_role(self) -> Option<i64> {
        match self {
            Access::Public => None,
            Access::User => Some(ROLE_COMMON),
            Access::Admin => Some(ROLE_ADMIN),
            Access::Root => Some(ROLE_ROOT),
        }
    }
}

/// Runs before every routed handler: a malformed `{id}` is an unknown route (404), then the
/// caller must have the route's access; the authenticated user goes into the request's
/// extensions for the handler's extractor.
pub async fn guard(
    State((app, access, route)): State<(AppState, Access, &'static str)>,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    if params
        .iter()
        .any(|(name, value)| name == "id" && !is_digits(value))
    {
        return ApiError::NotFound(request.uri().path().to_string()).into_response();
    }
    let mut audit = None;
    if let Some(min_role) = access.min_role() {
        let (mut parts, body) = request.into_parts();
        match authenticate(&parts, &app, min_role).await {
            Ok(user) => {
                if access >= Access::Admin && parts.method != Method::GET {
                    let ip = ClientIp::from_request_parts(&mut parts, &app)
                        .await
                        .map(|ClientIp(ip)| ip.to_string())
                        .unwrap_or_default();
                    audit = Some(AuditEntry {
                        id: 0,
                        user_id: user.user.id,
                        username: user.user.username.clone(),
                        method: parts.method.to_string(),
                        route: route.to_string(),
                        path: parts.uri.path().to_string(),
                        status: 0,
                        success: 0,
                        ip,
                        created_at: now_secs(),
                    });
                }
                request = Request::from_parts(parts, body);
                request.extensions_mut().insert::<AuthUser>(user);
            }
            Err(error) => {
                // Read the refused request to its end, so that the connection stays usable.
                let limit = app.config.control_plane.max_body_bytes;
                drop(axum::body::to_bytes(body, limit).await);
                return error.into_response();
            }
        }
    }
    let response = next.run(request).await;
    match audit {
        Some(entry) => audited(&app, entry, response).await,
        None => response,
    }
}

/// Writes `entry` with the answer's status and new-api's `success` flag (read from the
/// answer, which is rebuilt unchanged); a failure to write is logged, never the caller's.
async fn audited(app: &AppState, mut entry: AuditEntry, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, AUDIT_READ_LIMIT)
        .await
        .unwrap_or_default();
    entry.status = i64::from(parts.status.as_u16());
    let succeeded = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|answer| answer.get("success").and_then(serde_json::Value::as_bool))
        .unwrap_or(parts.status.is_success());
    entry.success = i64::from(succeeded && parts.status.is_success());
    if let Err(error) = app.db.record_audit(&entry).await {
        tracing::error!(%error, route = entry.route, user = entry.user_id, "writing the audit log failed");
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// The most of an administrator's answer read to find its `success` flag (their answers are
/// small JSON; CSV downloads are GETs, never audited).
const AUDIT_READ_LIMIT: usize = 16 << 20;

/// Whether an `{id}` of the path is not digits: the path names no route then.
pub fn has_malformed_id(params: &RawPathParams) -> bool {
    params
        .iter()
        .any(|(name, value)| name == "id" && !is_digits(value))
}

/// Whether a path segment can be an id at all (its range is the id extractor's business).
fn is_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_can_be_ids() {
        assert!(is_digits("7"));
        assert!(is_digits("99999999999999999999999"));
        assert!(!is_digits(""));
        assert!(!is_digits("-3"));
        assert!(!is_digits("self"));
        assert!(!is_digits(" 7"));
    }
}
