//! Who is calling the relay: the `sk-` key (from `Authorization: Bearer`, `x-api-key`,
//! `x-goog-api-key` or `?key=`), checked against the key cache (which reads a key it does not
//! hold from the database once, see `snapshot::KeyCache`).

use super::errors::RelayError;
use super::snapshot::{Snapshot, TokenEntry, UserEntry};
use pingora::http::RequestHeader;
use pylon_shared::keys::{KEY_BODY_LEN, KEY_PREFIX};
use pylon_shared::roles::STATUS_ENABLED;
use std::net::IpAddr;
use std::sync::Arc;

/// The key and its owner, both checked.
#[derive(Clone)]
pub struct Caller {
    pub token: Arc<TokenEntry>,
    pub user: Arc<UserEntry>,
    /// A playground request: the key stands for the signed-in user (see `playground`).
    pub playground: bool,
}

impl Caller {
    /// The group that routes and prices this caller's requests.
    pub fn group(&self) -> &str {
        if self.token.group.is_empty() {
            &self.user.group
        } else {
            &self.token.group
        }
    }
}

/// Token statuses (new-api numbering).
const TOKEN_EXPIRED: i64 = 3;
const TOKEN_EXHAUSTED: i64 = 4;

/// The presented key, if any.
pub fn presented_key(header: &RequestHeader) -> Option<&str> {
    let from_header = |name: &str| {
        header
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(value) = from_header("authorization") {
        return Some(match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => value,
        });
    }
    from_header("x-api-key")
        .or_else(|| from_header("x-goog-api-key"))
        .or_else(|| {
            header.uri.query().and_then(|query| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("key="))
                    .filter(|k| !k.is_empty())
            })
        })
}

/// Whether `key` has the shape of an API key (`sk-` optional, then 48 of [A-Za-z0-9]): any
/// other text cannot be a key, and is refused without a lookup.
fn well_formed(key: &str) -> bool {
    let body = key.strip_prefix(KEY_PREFIX).unwrap_or(key);
    body.len() == KEY_BODY_LEN && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Checks the key and its user; `now` is unix seconds.
pub async fn authenticate(
    snapshot: &Snapshot,
    header: &RequestHeader,
    client_ip: Option<IpAddr>,
    now: i64,
) -> Result<Caller, RelayError> {
    let key = presented_key(header).ok_or_else(|| {
        RelayError::invalid_key(
            "You didn't provide an API key. Provide it as Authorization: Bearer sk-...",
        )
    })?;
    if !well_formed(key) {
        return Err(RelayError::invalid_key("Incorrect API key provided"));
    }
    let hash = pylon_shared::keys::lookup_hash(key);
    let token = snapshot
        .keys
        .token(&hash)
        .await
        .map_err(lookup_failed)?
        .ok_or_else(|| RelayError::invalid_key("Incorrect API key provided"))?;
    match token.status {
        super::snapshot::TOKEN_ENABLED => {}
        TOKEN_EXPIRED => return Err(RelayError::invalid_key("This API key has expired")),
        TOKEN_EXHAUSTED => {
            return Err(RelayError::insufficient_quota(
                "This API key has used up its quota",
            ));
        }
        _ => return Err(RelayError::invalid_key("This API key is disabled")),
    }
    if token.expired_time != -1 && token.expired_time <= now {
        return Err(RelayError::invalid_key("This API key has expired"));
    }
    if !token.allows_ip(client_ip) {
        return Err(RelayError::forbidden(format!(
            "This API key may not be used from {}",
            client_ip.map_or_else(|| "this address".to_string(), |ip| ip.to_string())
        )));
    }
    let user = snapshot
        .keys
        .user(token.user_id)
        .await
        .map_err(lookup_failed)?
        .ok_or_else(|| RelayError::invalid_key("The owner of this API key no longer exists"))?;
    if user.status != STATUS_ENABLED {
        return Err(RelayError::forbidden(
            "The owner of this API key is disabled",
        ));
    }
    Ok(Caller {
        token,
        user,
        playground: false,
    })
}

fn lookup_failed(error: pylon_shared::db::DbError) -> RelayError {
    tracing::warn!(%error, "looking up an API key failed");
    RelayError::unavailable("The API key cannot be checked right now; retry shortly")
}
