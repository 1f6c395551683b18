//! new-api's playground, `POST /pg/chat/completions`: a chat completion relayed for the
//! signed-in console user instead of an `sk-` key, streamed or not, billed to the user and
//! logged exactly like a key request. As in new-api (`controller/playground.go`):
//!
//! - The caller is new-api's `UserAuth`: the session cookie the control plane issued (checked
//!   here against the same secret and the same `sessions` row, so a logout applies at once)
//!   and `New-Api-User` naming the same user. Refusals are new-api's envelope with the control
//!   plane's statuses and messages (401 without a session; a banned user 200 with
//!   `success: false`). An access token is refused (new-api: "暂不支持使用 access token"),
//!   here with 403 and code `access_denied`.
//! - The request stands for a key of the user's: id 0, named `playground-<group>`, without a
//!   quota of its own (only the user's balance or subscription pays and is held at admission),
//!   in the group the body's optional `group` names when the user may use it (their own group
//!   or one of `UserUsableGroups`; else 403), their own group otherwise. `group` is taken out
//!   of the body before it goes upstream. The log row is the usual one, its `token_name`
//!   `playground-<group>` and `token_id` 0, as new-api writes it.
//!
//! The request is then the relay's `/v1/chat/completions` in every respect (rate limits,
//! admission, routing, retries, settlement). Checking the session costs one indexed read of
//! `sessions` per request (the user comes from the key cache); the playground is an
//! interactive console, not the keyed hot path.

use super::auth::Caller;
use super::errors::RelayError;
use super::snapshot::{Snapshot, TOKEN_ENABLED, TokenEntry, UserEntry};
use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::proxy::Session;
use pylon_shared::config::Config;
use pylon_shared::db::Db;
use pylon_shared::roles::STATUS_ENABLED;
use pylon_shared::session::{self, refusals};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The playground's path (new-api's).
pub const PATH: &str = "/pg/chat/completions";
/// The relay path a playground request is served as.
const RELAY_PATH: &str = "/v1/chat/completions";

/// Whether `header` asks for the playground.
pub fn asked(header: &RequestHeader) -> bool {
    header.uri.path().trim_end_matches('/') == PATH
}

/// Serves the request as the relay's chat completions (its query kept): recognised, routed and
/// sent upstream as `/v1/chat/completions`.
pub fn serve_as_relay(header: &mut RequestHeader) -> Result<(), RelayError> {
    let uri = match header.uri.query() {
        Some(query) => format!("{RELAY_PATH}?{query}"),
        None => RELAY_PATH.to_string(),
    };
    let uri = uri
        .parse()
        .map_err(|_| RelayError::bad_request("The request's query string is malformed"))?;
    header.set_uri(uri);
    Ok(())
}

/// Checks console sessions for the playground.
pub struct Sessions {
    config: Arc<Config>,
    db: Db,
    /// The session secret, once the control plane has made one.
    secret: OnceCell<String>,
}

/// Why the playground refused a caller.
#[derive(Debug)]
pub enum Refusal {
    /// new-api's `UserAuth` refusal: `{"success": false, "message"}` with this status.
    Console { status: u16, message: &'static str },
    /// A refusal in OpenAI's error shape.
    Relay(RelayError),
}

impl Refusal {
    /// Writes the refusal as the whole response.
    pub async fn respond(&self, session: &mut Session) -> pingora::Result<()> {
        match self {
            Refusal::Console { status, message } => {
                let body = serde_json::json!({ "success": false, "message": message });
                super::write_json(session, *status, Bytes::from(body.to_string())).await
            }
            Refusal::Relay(error) => error.respond(session).await,
        }
    }
}

impl From<RelayError> for Refusal {
    fn from(error: RelayError) -> Self {
        Refusal::Relay(error)
    }
}

fn unauthorized(message: &'static str) -> Refusal {
    Refusal::Console {
        status: 401,
        message,
    }
}

impl Sessions {
    pub fn new(config: Arc<Config>, db: Db) -> Self {
        Self {
            config,
            db,
            secret: OnceCell::new(),
        }
    }

    /// The session secret, `None` while the control plane has made none (no session exists).
    async fn secret(&self) -> Result<Option<&str>, RelayError> {
        if let Some(secret) = self.secret.get() {
            return Ok(Some(secret.as_str()));
        }
        match pylon_shared::secrets::existing_session_secret(&self.config, &self.db).await {
            Ok(Some(secret)) => Ok(Some(
                self.secret.get_or_init(|| async { secret }).await.as_str(),
            )),
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "reading the session secret failed");
                Err(RelayError::unavailable(
                    "The session cannot be checked right now; retry shortly",
                ))
            }
        }
    }

    /// The user of the request's live session, if it has one.
    async fn signed_in(&self, header: &RequestHeader) -> Result<Option<i64>, RelayError> {
        let cookies = header
            .headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let Some(jwt) = session::cookie_value(cookies) else {
            return Ok(None);
        };
        let Some(secret) = self.secret().await? else {
            return Ok(None);
        };
        let Some(claim) = session::verify(secret, jwt) else {
            return Ok(None);
        };
        let row = self
            .db
            .live_session(&claim.id_hash)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "looking up a session failed");
                RelayError::unavailable("The session cannot be checked right now; retry shortly")
            })?;
        Ok(row
            .filter(|row| row.user_id == claim.user_id)
            .map(|row| row.user_id))
    }

    /// new-api's `UserAuth` for the playground: the signed-in, enabled user that
    /// `New-Api-User` names, as a caller in their own group (see [`pick_group`]).
    pub async fn authenticate(
        &self,
        snapshot: &Snapshot,
        header: &RequestHeader,
    ) -> Result<Caller, Refusal> {
        let Some(user_id) = self.signed_in(header).await? else {
            return Err(if header.headers.contains_key("authorization") {
                Refusal::Relay(access_tokens_refused())
            } else {
                unauthorized(refusals::NOT_LOGGED_IN)
            });
        };
        let named = header
            .headers
            .get(session::USER_ID_HEADER)
            .map(|v| v.as_bytes());
        session::check_named_user(named, user_id).map_err(unauthorized)?;
        let user = snapshot
            .keys
            .user(user_id)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "looking up a playground user failed");
                RelayError::unavailable("The user cannot be checked right now; retry shortly")
            })?
            .ok_or(unauthorized(refusals::USER_INVALID))?;
        if user.status != STATUS_ENABLED {
            return Err(Refusal::Console {
                status: 200,
                message: refusals::BANNED,
            });
        }
        let group = user.group.clone();
        Ok(caller(user, group))
    }

    /// Takes the body's `group` out and makes it the caller's group when the user may use it:
    /// their own, or one of `UserUsableGroups` (read when a group other than their own is
    /// named). A body that is not a JSON object is left to the request parser.
    pub async fn pick_group(
        &self,
        caller: &Caller,
        body: Bytes,
    ) -> Result<(Caller, Bytes), RelayError> {
        let Some(group) = named_group(&body)? else {
            return Ok((caller.clone(), body));
        };
        let body = without_group(&body)?;
        if group.is_empty() || group == caller.user.group {
            return Ok((caller.clone(), body));
        }
        let stored = self
            .db
            .option(pylon_shared::groups::OPTION_USABLE_GROUPS)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading the usable groups failed");
                RelayError::unavailable("The group cannot be checked right now; retry shortly")
            })?;
        if !pylon_shared::groups::usable_groups(stored.as_deref()).contains_key(&group) {
            return Err(RelayError::forbidden(format!(
                "No permission to access group {group}"
            )));
        }
        Ok((self::caller(Arc::clone(&caller.user), group), body))
    }
}

/// new-api's answer to an access token on the playground.
fn access_tokens_refused() -> RelayError {
    RelayError {
        code: Some("access_denied"),
        ..RelayError::forbidden("The playground does not accept access tokens; sign in to use it")
    }
}

/// The caller a playground request of `user` in `group` stands for.
fn caller(user: Arc<UserEntry>, group: String) -> Caller {
    let token = TokenEntry {
        id: 0,
        user_id: user.id,
        name: format!("playground-{group}"),
        status: TOKEN_ENABLED,
        expired_time: -1,
        unlimited: true,
        model_limits: None,
        allow_ips: Vec::new(),
        group,
        rpm_limit: 0,
        tpm_limit: 0,
        model_rpm_limit: HashMap::new(),
        model_tpm_limit: HashMap::new(),
        user_channels: Vec::new(),
    };
    Caller {
        token: Arc::new(token),
        user,
        playground: true,
    }
}

/// The body's `group`, when it has one (a string; `null` is none). A body that is not JSON
/// names none (the parser refuses it next).
fn named_group(body: &[u8]) -> Result<Option<String>, RelayError> {
    #[derive(Deserialize)]
    struct Peek {
        group: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Peek>(body) {
        Ok(Peek { group: None }) | Err(_) => Ok(None),
        Ok(Peek {
            group: Some(serde_json::Value::Null),
        }) => Ok(Some(String::new())),
        Ok(Peek {
            group: Some(serde_json::Value::String(group)),
        }) => Ok(Some(group)),
        Ok(Peek { group: Some(_) }) => {
            Err(RelayError::bad_request("The field group must be a string"))
        }
    }
}

/// The body without its `group` (providers refuse fields they do not know).
fn without_group(body: &[u8]) -> Result<Bytes, RelayError> {
    let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| RelayError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    object.remove("group");
    serde_json::to_vec(&object)
        .map(Bytes::from)
        .map_err(|e| RelayError::bad_request(format!("The request body cannot be rewritten: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_read_and_taken_out() {
        let body = br#"{"model":"m","group":"vip","messages":[]}"#;
        assert_eq!(named_group(body).ok().flatten().as_deref(), Some("vip"));
        let stripped = without_group(body).expect("rewritten");
        let value: serde_json::Value = serde_json::from_slice(&stripped).expect("json");
        assert_eq!(value, serde_json::json!({"model": "m", "messages": []}));
        assert_eq!(named_group(br#"{"model":"m"}"#).ok().flatten(), None);
        assert_eq!(named_group(b"not json").ok().flatten(), None);
        assert!(named_group(br#"{"group": 5}"#).is_err());
    }

    #[test]
    fn only_the_playground_path_is_asked() {
        let header =
            |path: &str| RequestHeader::build("POST", path.as_bytes(), None).expect("header");
        assert!(asked(&header("/pg/chat/completions")));
        assert!(asked(&header("/pg/chat/completions/")));
        assert!(!asked(&header("/pg/chat")));
        assert!(!asked(&header("/v1/chat/completions")));
        let mut served = header("/pg/chat/completions?x=1");
        serve_as_relay(&mut served).expect("rewritten");
        assert_eq!(served.uri.to_string(), "/v1/chat/completions?x=1");
    }
}
