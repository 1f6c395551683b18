//! Who the relying party is, from new-api's `passkey.*` options: `passkey.enabled`,
//! `passkey.rp_id`, `passkey.origins` (comma-separated), `passkey.rp_display_name` and
//! `passkey.allow_insecure_origin`. Without configured origins, the origin is derived from the
//! request (`X-Forwarded-Proto` and `Host`, then the `ServerAddress` option), and the RP ID from
//! the origin's host, as new-api does. Plain-HTTP origins are refused unless allowed, except
//! for localhost (browsers treat it as a secure context).

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, header};
use std::time::Duration;
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

/// How long a browser waits for the authenticator (new-api: 2 minutes).
const CEREMONY_TIMEOUT: Duration = Duration::from_secs(120);

/// Refuses unless an administrator turned passkey login on (new-api's message).
pub async fn ensure_enabled(app: &App) -> Result<(), ApiError> {
    if app.settings.now().get("passkey.enabled") == Some("true") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "Passkey login has not been enabled by the administrator",
        ))
    }
}

/// The stable WebAuthn user handle of a user (the user id, as new-api uses it).
pub fn user_handle(user_id: i64) -> Uuid {
    Uuid::from_u64_pair(0, u64::try_from(user_id).unwrap_or(0))
}

/// The WebAuthn verifier for this request.
pub async fn webauthn(app: &App, headers: &HeaderMap) -> Result<Webauthn, ApiError> {
    let snapshot = app.settings.now();
    let options = snapshot.stored();
    let option = |key: &str| options.get(key).map(|v| v.trim()).unwrap_or("");
    let allow_insecure = option("passkey.allow_insecure_origin") == "true";
    let origins = origins(option("passkey.origins"), option("ServerAddress"), headers)?;
    for origin in &origins {
        if origin.scheme() == "http" && !allow_insecure && !is_local(origin) {
            return Err(ApiError::invalid(format!(
                "Passkey does not allow the insecure origin {origin}; use HTTPS"
            )));
        }
    }
    let first = origins
        .first()
        .ok_or_else(|| ApiError::invalid("The passkey origin cannot be determined"))?;
    let rp_id = match option("passkey.rp_id") {
        "" => first.host_str().unwrap_or("").to_string(),
        configured => without_port(configured).to_string(),
    };
    for origin in &origins {
        let host = origin.domain().unwrap_or("");
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(ApiError::invalid(format!(
                "The passkey RP ID {rp_id} is not a domain of the origin {origin}"
            )));
        }
    }
    let display_name = [option("passkey.rp_display_name"), option("SystemName")]
        .into_iter()
        .find(|name| !name.is_empty())
        .unwrap_or("Pylon");
    let mut builder = WebauthnBuilder::new(&rp_id, first)
        .map_err(|e| ApiError::invalid(format!("Invalid passkey configuration: {e}")))?
        .rp_name(display_name)
        .timeout(CEREMONY_TIMEOUT);
    for origin in origins.iter().skip(1) {
        builder = builder.append_allowed_origin(origin);
    }
    builder
        .build()
        .map_err(|e| ApiError::invalid(format!("Invalid passkey configuration: {e}")))
}

/// The configured origins, or the one this request came through.
fn origins(
    configured: &str,
    server_address: &str,
    headers: &HeaderMap,
) -> Result<Vec<Url>, ApiError> {
    let listed: Vec<&str> = configured
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .collect();
    if !listed.is_empty() {
        return listed
            .into_iter()
            .map(|origin| {
                Url::parse(origin).map_err(|_| {
                    ApiError::invalid(format!("The passkey origin {origin} is not a valid URL"))
                })
            })
            .collect();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let derived = match header(header::HOST.as_str()) {
        Some(host) => {
            let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".to_string());
            format!("{}://{host}", scheme.to_ascii_lowercase())
        }
        None => server_address.trim_end_matches('/').to_string(),
    };
    let url = Url::parse(&derived)
        .map_err(|_| ApiError::invalid("The passkey origin cannot be determined"))?;
    Ok(vec![url])
}

fn is_local(origin: &Url) -> bool {
    matches!(origin.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_the_option_or_the_request() {
        let headers = HeaderMap::new();
        let listed = origins("https://a.example, https://b.example", "", &headers).unwrap();
        assert_eq!(listed.len(), 2);
        assert!(origins("not a url", "", &headers).is_err());

        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "pylon.example:8443".parse().unwrap());
        headers.insert("x-forwarded-proto", "HTTPS".parse().unwrap());
        let derived = origins("", "", &headers).unwrap();
        assert_eq!(derived[0].as_str(), "https://pylon.example:8443/");

        let fallback = origins("", "https://api.example/", &HeaderMap::new()).unwrap();
        assert_eq!(fallback[0].host_str(), Some("api.example"));
    }

    #[test]
    fn ports_are_stripped_from_the_rp_id() {
        assert_eq!(without_port("localhost:3000"), "localhost");
        assert_eq!(without_port("example.com"), "example.com");
    }
}
