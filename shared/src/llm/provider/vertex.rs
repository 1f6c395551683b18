//! Vertex AI channels (type 41), Gemini and Claude models:
//! `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/
//! publishers/{google|anthropic}/models/{model}:{action}` with `Authorization: Bearer {token}`.
//! The key is the service account's JSON; the token comes from Google's OAuth token endpoint
//! in exchange for an RS256-signed JWT assertion ([`token_request`], [`parse_token_answer`]).
//! Claude bodies lose `model` and gain `anthropic_version: vertex-2023-10-16`. A base URL, when
//! the channel has one, replaces the regional host (a private endpoint or a proxy).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, body_object, encode_segment, json_headers,
    unsupported,
};
use crate::llm::errors::{ApiError, ErrorKind};
use crate::llm::format::Op;

/// The region when the channel names none.
pub const DEFAULT_REGION: &str = "us-central1";
/// The `anthropic_version` Vertex wants in Claude bodies.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";
/// The OAuth scope of Vertex AI calls.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, when the service account names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long an assertion (and so the token) is asked to live.
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// Whether a model is one of Anthropic's (served under `publishers/anthropic`).
pub fn is_claude(model: &str) -> bool {
    model.starts_with("claude")
}

/// The fields of a service account key file that are needed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceAccount {
    /// The project the calls are billed to.
    pub project_id: String,
    /// PEM private key (PKCS#8).
    pub private_key: String,
    /// The key's id (the JWT's `kid`).
    #[serde(default)]
    pub private_key_id: String,
    /// The account's e-mail (the JWT's issuer).
    pub client_email: String,
    /// Where tokens are issued.
    #[serde(default)]
    pub token_uri: String,
}

/// Reads a channel key as a service account.
pub fn parse_service_account(key: &str) -> Result<ServiceAccount, ApiError> {
    serde_json::from_str(key.trim()).map_err(|e| {
        ApiError::new(
            ErrorKind::Internal,
            format!("the Vertex AI key is not a service account JSON: {e}"),
        )
    })
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

fn token_uri(account: &ServiceAccount) -> &str {
    if account.token_uri.is_empty() {
        DEFAULT_TOKEN_URI
    } else {
        &account.token_uri
    }
}

/// The signed JWT assertion for the token exchange, issued at `now` (seconds since the epoch).
pub fn assertion(account: &ServiceAccount, now: u64) -> Result<String, ApiError> {
    let der = rsa_der(&account.private_key).ok_or_else(|| {
        ApiError::new(
            ErrorKind::Internal,
            "the service account's private key is not an RSA PEM key",
        )
    })?;
    let key = EncodingKey::from_rsa_der(&der);
    let mut header = Header::new(Algorithm::RS256);
    if !account.private_key_id.is_empty() {
        header.kid = Some(account.private_key_id.clone());
    }
    let claims = Claims {
        iss: &account.client_email,
        scope: SCOPE,
        aud: token_uri(account),
        iat: now,
        exp: now.saturating_add(ASSERTION_LIFETIME_SECS),
    };
    encode(&header, &claims, &key).map_err(|e| {
        ApiError::new(
            ErrorKind::Internal,
            format!("signing the assertion failed: {e}"),
        )
    })
}

/// The PKCS#1 DER of an RSA key in PEM: `RSA PRIVATE KEY`/`RSA PUBLIC KEY` as is,
/// PKCS#8 `PRIVATE KEY` unwrapped (the key file Google issues).
pub(crate) fn rsa_der(pem: &str) -> Option<Vec<u8>> {
    let begin = pem.find("-----BEGIN ")?;
    let label_end = pem[begin + 11..].find("-----")? + begin + 11;
    let label = &pem[begin + 11..label_end];
    let end = pem.find("-----END ")?;
    let body: String = pem[label_end + 5..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    match label {
        "RSA PRIVATE KEY" | "RSA PUBLIC KEY" => Some(der),
        "PRIVATE KEY" => {
            // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, key OCTET STRING }
            let (tag, info, _) = der_item(&der)?;
            if tag != 0x30 {
                return None;
            }
            let (_, _, rest) = der_item(info)?;
            let (_, _, rest) = der_item(rest)?;
            let (tag, key, _) = der_item(rest)?;
            (tag == 0x04).then(|| key.to_vec())
        }
        _ => None,
    }
}

/// One DER item: (tag, content, what follows).
fn der_item(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *bytes.first()?;
    let first = *bytes.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let count = (first & 0x7F) as usize;
        if count == 0 || count > 4 {
            return None;
        }
        let len = bytes
            .get(2..2 + count)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + count)
    };
    let content = bytes.get(header..header.checked_add(len)?)?;
    Some((tag, content, &bytes[header + len..]))
}

/// The token exchange request (form-encoded JWT bearer grant).
pub fn token_request(account: &ServiceAccount, now: u64) -> Result<UpstreamRequest, ApiError> {
    let assertion = assertion(account, now)?;
    let (origin, path) = super::split_base(token_uri(account));
    Ok(UpstreamRequest {
        method: "POST",
        origin,
        path_and_query: if path.is_empty() {
            "/".to_owned()
        } else {
            path
        },
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        )
        .into_bytes(),
    })
}

/// An OAuth access token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// Seconds it stays valid from when it was issued.
    pub expires_in: u64,
}

/// Reads the token endpoint's answer (`{"access_token","expires_in","token_type"}`, or
/// `{"error","error_description"}`).
pub fn parse_token_answer(body: &[u8]) -> Result<AccessToken, ApiError> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match value.get("access_token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => Ok(AccessToken {
            token: token.to_owned(),
            expires_in: value
                .get("expires_in")
                .and_then(Value::as_u64)
                .unwrap_or(ASSERTION_LIFETIME_SECS),
        }),
        _ => {
            let error = value
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no access_token");
            let description = value
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Err(ApiError::new(
                ErrorKind::Authentication,
                format!("Vertex AI token exchange failed: {error} {description}")
                    .trim_end()
                    .to_owned(),
            ))
        }
    }
}

/// The region for `model`: the channel's `other` as a region, or as JSON
/// `{"default": region, "<model>": region}`.
pub fn region(channel: &Channel, model: &str) -> String {
    let other = channel.other.trim();
    if other.starts_with('{') {
        let map: Value = serde_json::from_str(other).unwrap_or(Value::Null);
        if let Some(region) = map
            .get(model)
            .or_else(|| map.get("default"))
            .and_then(Value::as_str)
        {
            return region.to_owned();
        }
        return DEFAULT_REGION.to_owned();
    }
    if other.is_empty() {
        DEFAULT_REGION.to_owned()
    } else {
        other.to_owned()
    }
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    let account = parse_service_account(&channel.key)?;
    let Some(token) = outgoing.access_token else {
        return Err(ApiError::new(
            ErrorKind::Internal,
            "a Vertex AI request needs an access token",
        ));
    };
    let region = region(channel, outgoing.model);
    let host = if !channel.base_url.trim().is_empty() {
        super::origin_or(&channel.base_url, "")
    } else if region == "global" {
        "https://aiplatform.googleapis.com".to_owned()
    } else {
        format!("https://{region}-aiplatform.googleapis.com")
    };
    let claude = is_claude(outgoing.model);
    let (publisher, action, body) = if claude {
        let action = match (outgoing.op, outgoing.stream) {
            (Op::Generate, false) => "rawPredict",
            (Op::Generate, true) => "streamRawPredict",
            (op, _) => return Err(unsupported(ChannelType::VertexAi, op)),
        };
        let mut body = body_object(&outgoing.body)?;
        body.remove("model");
        body.insert("anthropic_version".into(), json!(ANTHROPIC_VERSION));
        (
            "anthropic",
            action,
            Value::Object(body).to_string().into_bytes(),
        )
    } else {
        let action = match (outgoing.op, outgoing.stream) {
            (Op::Generate, false) => "generateContent",
            (Op::Generate, true) => "streamGenerateContent?alt=sse",
            (Op::CountTokens, _) => "countTokens",
            (op, _) => return Err(unsupported(ChannelType::VertexAi, op)),
        };
        ("google", action, outgoing.body)
    };
    let mut headers = json_headers();
    headers.push(("authorization".into(), format!("Bearer {token}")));
    if claude {
        headers.extend(
            super::anthropic::version_headers(&outgoing.passed_headers)
                .into_iter()
                .filter(|(n, _)| n == "anthropic-beta"),
        );
    }
    Ok(UpstreamRequest {
        method: "POST",
        origin: host,
        path_and_query: format!(
            "/v1/projects/{}/locations/{region}/publishers/{publisher}/models/{}:{action}",
            encode_segment(&account.project_id),
            encode_segment(outgoing.model),
        ),
        headers,
        body,
    })
}
