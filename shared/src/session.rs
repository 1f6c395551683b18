//! The login session's cookie: a JWT (HS256, named `session` as in new-api) carrying the user id
//! and a random session id, whose SHA-256 is the key of its `sessions` row (so that logout
//! revokes it before it expires). The control plane issues and checks it on `/api/*`; the proxy
//! checks it for the playground (`/pg/chat/completions`). Both read the same row, so a
//! logout or ban applies to both at once.

use crate::crypto::sha256_hex;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The cookie's name.
pub const COOKIE_NAME: &str = "session";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id.
    uid: i64,
    /// The random session id (stored hashed).
    sid: String,
    iat: i64,
    exp: i64,
}

/// What an authentic, unexpired cookie names; the caller still checks the `sessions` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaim {
    pub user_id: i64,
    /// The key of the session's row: the SHA-256 of its id.
    pub id_hash: String,
}

/// The cookie value of a new session of `user_id` with the random id `sid`, valid from `now`
/// until `expires` (unix seconds), signed with `secret`.
pub fn sign(
    secret: &str,
    user_id: i64,
    sid: String,
    now: i64,
    expires: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let claims = Claims {
        uid: user_id,
        sid,
        iat: now,
        exp: expires,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// The claim of a cookie value signed with `secret` and not expired; `None` for anything else.
/// The signature check is the library's HMAC verification (constant time).
pub fn verify(secret: &str, jwt: &str) -> Option<SessionClaim> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Claims>(
        jwt,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .ok()?;
    Some(SessionClaim {
        user_id: data.claims.uid,
        id_hash: sha256_hex(data.claims.sid.as_bytes()),
    })
}

/// The session cookie's value among `Cookie` header values, if one is set.
pub fn cookie_value<'a>(cookie_headers: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

/// The header naming the user a console acts as (new-api's).
pub const USER_ID_HEADER: &str = "New-Api-User";

/// new-api's answers to a caller who is not signed in, or whose `New-Api-User` does not fit
/// (HTTP 401), and to a banned one (HTTP 200, `success: false`), shared by the control plane's
/// user routes and the proxy's playground.
pub mod refusals {
    pub const NOT_LOGGED_IN: &str = "Unauthorized, not logged in and no access token provided";
    pub const ACCESS_TOKEN_INVALID: &str = "Unauthorized, access token is invalid";
    pub const USER_HEADER_MISSING: &str = "Unauthorized, New-Api-User header not provided";
    pub const USER_HEADER_MALFORMED: &str = "Unauthorized, New-Api-User header is malformed";
    pub const USER_HEADER_MISMATCH: &str =
        "Unauthorized, New-Api-User does not match the logged-in user";
    pub const USER_INVALID: &str = "Unauthorized, user information is invalid";
    pub const BANNED: &str = "User has been banned";
}

/// Checks that `New-Api-User` (its value, if sent) names `user_id`, the signed-in user; the
/// refusal is one of [`refusals`].
pub fn check_named_user(named: Option<&[u8]>, user_id: i64) -> Result<(), &'static str> {
    let named = named.ok_or(refusals::USER_HEADER_MISSING)?;
    let named: i64 = std::str::from_utf8(named)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or(refusals::USER_HEADER_MALFORMED)?;
    if named == user_id {
        Ok(())
    } else {
        Err(refusals::USER_HEADER_MISMATCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_cookie_verifies_only_with_its_secret_and_before_expiry() {
        let now = crate::db::now_secs();
        let jwt = sign("secret-a", 7, "sid".into(), now, now + 60).expect("sign");
        let claim = verify("secret-a", &jwt).expect("valid");
        assert_eq!(claim.user_id, 7);
        assert_eq!(claim.id_hash, sha256_hex(b"sid"));
        assert_eq!(verify("secret-b", &jwt), None);
        let expired = sign("secret-a", 7, "sid".into(), now - 120, now - 60).expect("sign");
        assert_eq!(verify("secret-a", &expired), None);
        assert_eq!(verify("secret-a", "not-a-jwt"), None);
    }

    #[test]
    fn the_named_user_must_be_the_signed_in_one() {
        assert_eq!(check_named_user(Some(b" 7 "), 7), Ok(()));
        assert_eq!(
            check_named_user(None, 7),
            Err(refusals::USER_HEADER_MISSING)
        );
        assert_eq!(
            check_named_user(Some(b"x"), 7),
            Err(refusals::USER_HEADER_MALFORMED)
        );
        assert_eq!(
            check_named_user(Some(b"8"), 7),
            Err(refusals::USER_HEADER_MISMATCH)
        );
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        assert_eq!(
            cookie_value(["a=1; session=xyz", "b=2"]),
            Some("xyz"),
            "second pair"
        );
        assert_eq!(cookie_value(["session=", "x=session"]), None);
        assert_eq!(cookie_value(["sessions=1"]), None);
    }
}
