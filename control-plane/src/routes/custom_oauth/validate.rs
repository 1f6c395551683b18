//! The rules a provider must meet before it is stored, new-api's (`validateCustomOAuthProvider`
//! and its helpers) and a few of Pylon's: every URL is an absolute http(s) URL, a public key
//! parses, every field fits its length, and the JWT acquire modes Pylon does not implement
//! (`ticket_exchange`, `ticket_validate`) are refused rather than stored and failing later.
//! Fields that mean nothing for the provider's kind are cleared, as new-api does.

use super::config::{Draft, Kind, Settings};
use super::policy;
use crate::error::ApiError;
use pylon_shared::net::IpNet;
use serde_json::{Map, Value};

/// Slugs that name routes of `/api/oauth/` or new-api's built-in providers.
const RESERVED_SLUGS: &[&str] = &[
    "state", "oidc", "github", "discord", "linuxdo", "wechat", "telegram", "email",
];

/// new-api's role targets a role mapping may name.
const ROLE_TARGETS: &[&str] = &[
    "common",
    "user",
    "member",
    "1",
    "admin",
    "administrator",
    "10",
];

/// The longest value each field may hold (new-api's column sizes; its TEXT columns get a
/// bound so that the whole configuration fits its row).
const MAX_CHARS: &[(&str, usize)] = &[
    ("name", 64),
    ("slug", 64),
    ("client_id", 256),
    ("client_secret", 512),
    ("icon", 128),
    ("authorization_endpoint", 512),
    ("token_endpoint", 512),
    ("user_info_endpoint", 512),
    ("scopes", 256),
    ("issuer", 512),
    ("audience", 256),
    ("jwks_url", 512),
    ("public_key", 8192),
    ("jwt_header", 128),
    ("trusted_proxy_cidrs", 4096),
    ("external_id_header", 128),
    ("username_header", 128),
    ("display_name_header", 128),
    ("email_header", 128),
    ("group_header", 128),
    ("role_header", 128),
    ("authorization_service_field", 64),
    ("ticket_exchange_url", 512),
    ("ticket_exchange_ticket_field", 64),
    ("ticket_exchange_token_field", 128),
    ("ticket_exchange_service_field", 64),
    ("ticket_exchange_extra_params", 4096),
    ("ticket_exchange_headers", 4096),
    ("user_id_field", 128),
    ("username_field", 128),
    ("display_name_field", 128),
    ("email_field", 128),
    ("group_field", 128),
    ("role_field", 128),
    ("group_mapping", 8192),
    ("role_mapping", 4096),
    ("well_known", 512),
    ("access_policy", 16384),
    ("access_denied_message", 512),
];

/// Checks and normalizes `draft`; answers its kind.
pub fn draft(draft: &mut Draft) -> Result<Kind, ApiError> {
    trim_all(draft);
    check_lengths(draft)?;
    if draft.name.is_empty() {
        return Err(invalid("provider name is required"));
    }
    draft.slug = draft.slug.to_lowercase();
    if draft.slug.is_empty() {
        return Err(invalid("provider slug is required"));
    }
    if !draft
        .slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid(
            "provider slug must contain only lowercase letters, numbers, and hyphens",
        ));
    }
    if RESERVED_SLUGS.contains(&draft.slug.as_str()) {
        return Err(invalid(
            "provider slug conflicts with a built-in OAuth provider or route",
        ));
    }
    let kind = Kind::parse(&draft.kind).ok_or_else(|| invalid("provider kind is invalid"))?;
    draft.kind = kind.name().to_string();
    clear_for_kind(draft, kind);
    let settings = &mut draft.settings;
    match kind {
        Kind::OAuthCode => {
            if draft.client_id.is_empty() {
                return Err(invalid("client ID is required"));
            }
            for (field, value) in [
                ("authorization endpoint", &settings.authorization_endpoint),
                ("token endpoint", &settings.token_endpoint),
                ("user info endpoint", &settings.user_info_endpoint),
            ] {
                if value.is_empty() {
                    return Err(invalid(&format!("{field} is required")));
                }
            }
            if !(0..=2).contains(&settings.auth_style) {
                return Err(invalid(
                    "auth_style must be 0 (auto), 1 (params) or 2 (header)",
                ));
            }
        }
        Kind::JwtDirect => jwt_direct(settings)?,
        Kind::TrustedHeader => trusted_header(settings)?,
    }
    if kind != Kind::TrustedHeader {
        for (value, default) in [
            (&mut settings.user_id_field, "sub"),
            (&mut settings.username_field, "preferred_username"),
            (&mut settings.display_name_field, "name"),
            (&mut settings.email_field, "email"),
            (&mut settings.scopes, "openid profile email"),
        ] {
            if value.is_empty() {
                *value = default.to_string();
            }
        }
    }
    for (field, value) in [
        ("authorization_endpoint", &settings.authorization_endpoint),
        ("token_endpoint", &settings.token_endpoint),
        ("user_info_endpoint", &settings.user_info_endpoint),
        ("jwks_url", &settings.jwks_url),
        ("well_known", &settings.well_known),
        ("ticket_exchange_url", &settings.ticket_exchange_url),
    ] {
        if !value.is_empty() && !is_http_url(value) {
            return Err(invalid(&format!("{field} must be a valid http/https url")));
        }
    }
    for (field, mode) in [
        ("group_mapping_mode", &mut settings.group_mapping_mode),
        ("role_mapping_mode", &mut settings.role_mapping_mode),
    ] {
        *mode = match mode.to_lowercase().as_str() {
            "" | "explicit_only" => "explicit_only".to_string(),
            "mapping_first" => "mapping_first".to_string(),
            _ => return Err(invalid(&format!("{field} is invalid"))),
        };
    }
    if !settings.group_mapping.is_empty() {
        json_object(&settings.group_mapping)
            .map_err(|why| invalid(&format!("group_mapping is invalid: {why}")))?;
    }
    if !settings.role_mapping.is_empty() {
        let mapping = json_object(&settings.role_mapping)
            .map_err(|why| invalid(&format!("role_mapping is invalid: {why}")))?;
        for (key, value) in mapping {
            let target = match value {
                Value::String(text) => text.trim().to_lowercase(),
                other => other.to_string(),
            };
            if !ROLE_TARGETS.contains(&target.as_str()) {
                return Err(invalid(&format!(
                    "role_mapping is invalid: unsupported role target for key {key:?}"
                )));
            }
        }
    }
    if !settings.access_policy.is_empty() {
        policy::Policy::parse(&settings.access_policy)
            .map_err(|why| invalid(&format!("access_policy is invalid: {why}")))?;
    }
    Ok(kind)
}

fn jwt_direct(settings: &mut Settings) -> Result<(), ApiError> {
    settings.jwt_acquire_mode = match settings.jwt_acquire_mode.to_lowercase().as_str() {
        "" | "direct_token" => "direct_token".to_string(),
        mode @ ("ticket_exchange" | "ticket_validate") => {
            return Err(invalid(&format!(
                "jwt_acquire_mode {mode} is not supported by this server; use direct_token"
            )));
        }
        _ => return Err(invalid("jwt_acquire_mode is invalid")),
    };
    settings.jwt_identity_mode = match settings.jwt_identity_mode.to_lowercase().as_str() {
        "" | "claims" => "claims".to_string(),
        "userinfo" => "userinfo".to_string(),
        _ => return Err(invalid("jwt_identity_mode is invalid")),
    };
    if settings.jwt_identity_mode == "claims" {
        if settings.issuer.is_empty() {
            return Err(invalid(
                "issuer is required for jwt_direct providers using claims mode",
            ));
        }
        if settings.jwks_url.is_empty() && settings.public_key.is_empty() {
            return Err(invalid(
                "jwks_url or public_key is required for jwt_direct providers using claims mode",
            ));
        }
        if !settings.public_key.is_empty() {
            super::jwt::public_key(&settings.public_key)
                .map_err(|_| invalid("public_key is not a PEM RSA, EC or Ed25519 public key"))?;
        }
    } else if !is_http_url(&settings.user_info_endpoint) {
        return Err(invalid(
            "user_info_endpoint is required and must be a valid http/https url for jwt_direct \
             providers using userinfo mode",
        ));
    }
    if settings.jwt_source.is_empty() {
        settings.jwt_source = "query".to_string();
    }
    if !matches!(settings.jwt_source.as_str(), "query" | "fragment" | "body") {
        return Err(invalid("jwt_source is invalid"));
    }
    if settings.jwt_header.is_empty() {
        settings.jwt_header = "Authorization".to_string();
    }
    if !is_header_name(&settings.jwt_header) {
        return Err(invalid("jwt_header is invalid"));
    }
    if settings.authorization_service_field.is_empty() {
        settings.authorization_service_field = "service".to_string();
    }
    settings.ticket_exchange_method = match settings.ticket_exchange_method.to_uppercase().as_str()
    {
        "" | "GET" => "GET".to_string(),
        "POST" => "POST".to_string(),
        _ => return Err(invalid("ticket_exchange_method is invalid")),
    };
    settings.ticket_exchange_payload_mode = match settings
        .ticket_exchange_payload_mode
        .to_lowercase()
        .as_str()
    {
        "" | "query" => "query".to_string(),
        mode @ ("form" | "json" | "multipart") => mode.to_string(),
        _ => return Err(invalid("ticket_exchange_payload_mode is invalid")),
    };
    if settings.ticket_exchange_ticket_field.is_empty() {
        settings.ticket_exchange_ticket_field = "ticket".to_string();
    }
    Ok(())
}

fn trusted_header(settings: &mut Settings) -> Result<(), ApiError> {
    if settings.trusted_proxy_cidrs.is_empty() {
        return Err(invalid(
            "trusted_proxy_cidrs is required for trusted_header providers",
        ));
    }
    let networks = trusted_networks(&settings.trusted_proxy_cidrs)
        .map_err(|why| invalid(&format!("trusted_proxy_cidrs is invalid: {why}")))?;
    if networks.is_empty() {
        return Err(invalid(
            "trusted_proxy_cidrs must contain at least one entry",
        ));
    }
    if settings.external_id_header.is_empty() {
        return Err(invalid(
            "external_id_header is required for trusted_header providers",
        ));
    }
    for (field, value) in [
        ("external_id_header", &settings.external_id_header),
        ("username_header", &settings.username_header),
        ("display_name_header", &settings.display_name_header),
        ("email_header", &settings.email_header),
        ("group_header", &settings.group_header),
        ("role_header", &settings.role_header),
    ] {
        if !value.is_empty() && !is_header_name(value) {
            return Err(invalid(&format!("{field} is invalid")));
        }
    }
    Ok(())
}

/// The networks of a `trusted_proxy_cidrs` JSON array (CIDRs or bare addresses; `/0` is
/// refused as too broad).
pub fn trusted_networks(raw: &str) -> Result<Vec<IpNet>, String> {
    let entries: Vec<String> =
        serde_json::from_str(raw).map_err(|_| "must be a valid JSON array".to_string())?;
    let mut networks = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        if entry.split_once('/').is_some_and(|(_, bits)| bits == "0") {
            return Err(format!("CIDR {entry:?} is too broad"));
        }
        let network = IpNet::parse(entry).ok_or_else(|| format!("invalid CIDR or IP {entry:?}"))?;
        networks.push(network);
    }
    Ok(networks)
}

/// Clears the fields that mean nothing for `kind` (new-api's `normalizeCustomOAuthProviderForKind`).
fn clear_for_kind(draft: &mut Draft, kind: Kind) {
    let s = &mut draft.settings;
    let trusted_header_fields = [
        &mut s.trusted_proxy_cidrs,
        &mut s.external_id_header,
        &mut s.username_header,
        &mut s.display_name_header,
        &mut s.email_header,
        &mut s.group_header,
        &mut s.role_header,
    ];
    if kind != Kind::TrustedHeader {
        trusted_header_fields.into_iter().for_each(String::clear);
    }
    match kind {
        Kind::OAuthCode => {
            for field in [
                &mut s.jwt_source,
                &mut s.jwt_header,
                &mut s.jwt_identity_mode,
                &mut s.jwt_acquire_mode,
                &mut s.issuer,
                &mut s.audience,
                &mut s.jwks_url,
                &mut s.public_key,
            ] {
                field.clear();
            }
            clear_ticket_fields(s);
        }
        Kind::JwtDirect => {
            s.token_endpoint.clear();
            draft.client_secret.clear();
            s.auth_style = 0;
        }
        Kind::TrustedHeader => {
            draft.client_id.clear();
            draft.client_secret.clear();
            for field in [
                &mut s.well_known,
                &mut s.authorization_endpoint,
                &mut s.token_endpoint,
                &mut s.user_info_endpoint,
                &mut s.scopes,
                &mut s.issuer,
                &mut s.audience,
                &mut s.jwks_url,
                &mut s.public_key,
                &mut s.jwt_source,
                &mut s.jwt_header,
                &mut s.jwt_identity_mode,
                &mut s.jwt_acquire_mode,
                &mut s.user_id_field,
                &mut s.username_field,
                &mut s.display_name_field,
                &mut s.email_field,
                &mut s.group_field,
                &mut s.role_field,
                &mut s.access_policy,
                &mut s.access_denied_message,
            ] {
                field.clear();
            }
            clear_ticket_fields(s);
            s.auth_style = 0;
        }
    }
}

fn clear_ticket_fields(s: &mut Settings) {
    for field in [
        &mut s.authorization_service_field,
        &mut s.ticket_exchange_url,
        &mut s.ticket_exchange_method,
        &mut s.ticket_exchange_payload_mode,
        &mut s.ticket_exchange_ticket_field,
        &mut s.ticket_exchange_token_field,
        &mut s.ticket_exchange_service_field,
        &mut s.ticket_exchange_extra_params,
        &mut s.ticket_exchange_headers,
    ] {
        field.clear();
    }
}

/// Trims every text field (the secret and the public key keep inner whitespace).
fn trim_all(draft: &mut Draft) {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(&*draft) else {
        return;
    };
    for value in fields.values_mut() {
        if let Value::String(text) = value {
            *text = text.trim().to_string();
        }
    }
    if let Ok(trimmed) = serde_json::from_value(Value::Object(fields)) {
        *draft = trimmed;
    }
}

fn check_lengths(draft: &Draft) -> Result<(), ApiError> {
    let Ok(Value::Object(fields)) = serde_json::to_value(draft) else {
        return Ok(());
    };
    for (field, max) in MAX_CHARS {
        let length = fields
            .get(*field)
            .and_then(Value::as_str)
            .map_or(0, |text| text.chars().count());
        if length > *max {
            return Err(invalid(&format!(
                "{field} is too long (at most {max} characters)"
            )));
        }
    }
    Ok(())
}

fn json_object(raw: &str) -> Result<Map<String, Value>, &'static str> {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object"),
        Err(_) => Err("must be valid JSON object"),
    }
}

/// Whether `raw` is an absolute http(s) URL with a host.
pub fn is_http_url(raw: &str) -> bool {
    url::Url::parse(raw).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn invalid(message: &str) -> ApiError {
    ApiError::invalid(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oauth_code() -> Draft {
        Draft::from_request(&json!({
            "name": " Corp SSO ", "slug": "Corp-SSO", "client_id": "id", "client_secret": "s",
            "authorization_endpoint": "https://idp.example/authorize",
            "token_endpoint": "https://idp.example/token",
            "user_info_endpoint": "https://idp.example/userinfo",
            "issuer": "https://idp.example", "trusted_proxy_cidrs": "[\"10.0.0.0/8\"]",
        }))
        .unwrap()
    }

    fn refusal(mut draft: Draft) -> String {
        match super::draft(&mut draft) {
            Err(ApiError::Invalid(message)) => message,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn oauth_code_providers_are_normalized_as_new_api_does() {
        let mut draft = oauth_code();
        assert_eq!(super::draft(&mut draft).unwrap(), Kind::OAuthCode);
        assert_eq!(draft.name, "Corp SSO");
        assert_eq!(draft.slug, "corp-sso");
        assert_eq!(draft.kind, "oauth_code");
        assert_eq!(draft.settings.user_id_field, "sub");
        assert_eq!(draft.settings.scopes, "openid profile email");
        assert_eq!(draft.settings.group_mapping_mode, "explicit_only");
        // Fields of other kinds are cleared.
        assert_eq!(draft.settings.issuer, "");
        assert_eq!(draft.settings.trusted_proxy_cidrs, "");
    }

    #[test]
    fn bad_providers_are_refused() {
        type Change = Box<dyn Fn(&mut Draft)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|d| d.name.clear()), "name is required"),
            (
                Box::new(|d| d.slug = "a b".into()),
                "only lowercase letters",
            ),
            (Box::new(|d| d.slug = "state".into()), "conflicts"),
            (Box::new(|d| d.kind = "cas".into()), "kind is invalid"),
            (Box::new(|d| d.client_id.clear()), "client ID is required"),
            (
                Box::new(|d| d.settings.token_endpoint = "ftp://x/token".into()),
                "token_endpoint must be a valid http/https url",
            ),
            (
                Box::new(|d| d.settings.user_info_endpoint = "/userinfo".into()),
                "user_info_endpoint must be a valid",
            ),
            (Box::new(|d| d.settings.auth_style = 3), "auth_style"),
            (
                Box::new(|d| d.settings.group_mapping = "[1]".into()),
                "group_mapping is invalid",
            ),
            (
                Box::new(|d| d.settings.role_mapping = r#"{"x": "root"}"#.into()),
                "unsupported role target",
            ),
            (
                Box::new(|d| d.settings.access_policy = r#"{"logic": "xor"}"#.into()),
                "access_policy is invalid",
            ),
            (Box::new(|d| d.name = "n".repeat(65)), "name is too long"),
        ];
        for (change, expected) in cases {
            let mut draft = oauth_code();
            change(&mut draft);
            let message = refusal(draft);
            assert!(message.contains(expected), "{message} / {expected}");
        }
    }

    #[test]
    fn jwt_and_trusted_header_providers_have_their_own_rules() {
        let mut jwt = oauth_code();
        jwt.kind = "jwt_direct".into();
        jwt.settings.issuer = String::new();
        assert!(refusal(jwt.clone()).contains("issuer is required"));
        jwt.settings.issuer = "https://idp.example".into();
        assert!(refusal(jwt.clone()).contains("jwks_url or public_key"));
        jwt.settings.jwks_url = "https://idp.example/jwks".into();
        jwt.settings.jwt_acquire_mode = "ticket_exchange".into();
        assert!(refusal(jwt.clone()).contains("not supported"));
        jwt.settings.jwt_acquire_mode = String::new();
        jwt.settings.public_key = "not a key".into();
        assert!(refusal(jwt.clone()).contains("public_key"));
        jwt.settings.public_key = String::new();
        let mut ok = jwt.clone();
        assert_eq!(super::draft(&mut ok).unwrap(), Kind::JwtDirect);
        assert_eq!(ok.settings.jwt_source, "query");
        assert_eq!(ok.settings.jwt_header, "Authorization");
        assert_eq!(ok.client_secret, "", "a JWT provider keeps no secret");
        assert_eq!(ok.settings.token_endpoint, "");

        let mut header = oauth_code();
        header.kind = "trusted_header".into();
        header.settings.trusted_proxy_cidrs = "[\"0.0.0.0/0\"]".into();
        assert!(refusal(header.clone()).contains("too broad"));
        header.settings.trusted_proxy_cidrs = "[\"10.0.0.0/8\", \"127.0.0.1\"]".into();
        assert!(refusal(header.clone()).contains("external_id_header is required"));
        header.settings.external_id_header = "X User".into();
        assert!(refusal(header.clone()).contains("external_id_header is invalid"));
        header.settings.external_id_header = "X-Auth-User".into();
        let mut ok = header.clone();
        assert_eq!(super::draft(&mut ok).unwrap(), Kind::TrustedHeader);
        assert_eq!(ok.client_id, "");
        assert_eq!(ok.settings.authorization_endpoint, "");
    }
}
