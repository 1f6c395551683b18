//! Channel types and their upstream requests: from a channel (type, base URL, key, options)
//! and what to send (format, operation, model, stream, body in the upstream's format), the
//! method, URL, headers and body to send ([`UpstreamRequest`]). Pure: the relay does the I/O
//! (and, for Vertex AI, the OAuth token exchange built by [`vertex`]).
//!
//! Channel type numbers are new-api's: OpenAI-compatible 1, Azure 3, Anthropic 14, Gemini 24,
//! AWS Bedrock 33, Vertex AI 41.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod eventstream;
pub mod gemini;
pub mod openai;
pub mod sigv4;
pub mod vertex;

use serde_json::Value;

use super::errors::{ApiError, ErrorKind};
use super::format::{ApiFormat, Op};

/// A channel type (new-api's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// OpenAI and OpenAI-compatible upstreams (1).
    OpenAi,
    /// Azure OpenAI (3).
    Azure,
    /// Anthropic (14).
    Anthropic,
    /// Google Gemini API (24).
    Gemini,
    /// AWS Bedrock, Claude models (33).
    Bedrock,
    /// Google Vertex AI, Gemini and Claude models (41).
    VertexAi,
}

impl ChannelType {
    /// The type of new-api's number, `None` for types Pylon does not speak.
    pub fn from_number(number: i64) -> Option<ChannelType> {
        Some(match number {
            1 => ChannelType::OpenAi,
            3 => ChannelType::Azure,
            14 => ChannelType::Anthropic,
            24 => ChannelType::Gemini,
            33 => ChannelType::Bedrock,
            41 => ChannelType::VertexAi,
            _ => return None,
        })
    }

    /// new-api's number.
    pub fn number(self) -> i64 {
        match self {
            ChannelType::OpenAi => 1,
            ChannelType::Azure => 3,
            ChannelType::Anthropic => 14,
            ChannelType::Gemini => 24,
            ChannelType::Bedrock => 33,
            ChannelType::VertexAi => 41,
        }
    }

    /// The format to send a request of `client` format for `model` in: the client's own when
    /// the channel speaks it, else the channel's native one.
    pub fn upstream_format(self, client: ApiFormat, model: &str) -> ApiFormat {
        match self {
            ChannelType::OpenAi | ChannelType::Azure => match client {
                ApiFormat::Anthropic | ApiFormat::Gemini => ApiFormat::OpenAiChat,
                openai => openai,
            },
            ChannelType::Anthropic | ChannelType::Bedrock => ApiFormat::Anthropic,
            ChannelType::Gemini => ApiFormat::Gemini,
            ChannelType::VertexAi if vertex::is_claude(model) => ApiFormat::Anthropic,
            ChannelType::VertexAi => ApiFormat::Gemini,
        }
    }
}

/// A channel as the planner sees it: its type, and whether an OpenAI-compatible upstream has
/// the Responses API (the channel's `setting.responses_api`, yes unless it says `false`). A
/// chat-only upstream is sent Responses requests as chat completions, and its answers are
/// converted back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCaps {
    /// Its type.
    pub kind: ChannelType,
    /// It serves `/v1/responses` itself.
    pub responses_api: bool,
}

impl From<ChannelType> for ChannelCaps {
    fn from(kind: ChannelType) -> Self {
        ChannelCaps {
            kind,
            responses_api: true,
        }
    }
}

impl ChannelCaps {
    /// [`ChannelType::upstream_format`], with Responses requests to a chat-only upstream sent
    /// as chat completions.
    pub fn upstream_format(self, client: ApiFormat, model: &str) -> ApiFormat {
        let chat_only =
            !self.responses_api && matches!(self.kind, ChannelType::OpenAi | ChannelType::Azure);
        if chat_only && client == ApiFormat::OpenAiResponses {
            return ApiFormat::OpenAiChat;
        }
        self.kind.upstream_format(client, model)
    }
}

/// A channel as the formats layer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Its type.
    pub kind: ChannelType,
    /// Base URL (empty for the provider's default).
    pub base_url: String,
    /// The key as stored: an API key; Bedrock `AK|SK|region` (or a Bedrock API key); Vertex
    /// the service-account JSON.
    pub key: String,
    /// Azure `api-version`; Vertex and Bedrock region (new-api's `other` field).
    pub other: String,
}

/// What to send upstream (the body already in the upstream's format).
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// The body's format.
    pub format: ApiFormat,
    /// The operation.
    pub op: Op,
    /// The upstream's model name (after mapping).
    pub model: &'a str,
    /// A streamed answer is wanted.
    pub stream: bool,
    /// The body.
    pub body: Vec<u8>,
    /// For [`Op::Relay`]: the client's path and query, sent as is.
    pub relay_path: &'a str,
    /// Client headers passed on (`anthropic-version`, `anthropic-beta`), lower-case names.
    pub passed_headers: Vec<(String, String)>,
    /// Vertex AI: the OAuth access token (from [`vertex::token_request`]).
    pub access_token: Option<&'a str>,
    /// Bedrock SigV4: the signing time, `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

/// A request to an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// HTTP method.
    pub method: &'static str,
    /// Scheme, host and optional port: `https://api.openai.com`.
    pub origin: String,
    /// Path and query.
    pub path_and_query: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (empty for GET).
    pub body: Vec<u8>,
}

impl UpstreamRequest {
    /// The whole URL.
    pub fn url(&self) -> String {
        format!("{}{}", self.origin, self.path_and_query)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the upstream request for `outgoing` on `channel`.
pub fn build(channel: &Channel, outgoing: Outgoing<'_>) -> Result<UpstreamRequest, ApiError> {
    match channel.kind {
        ChannelType::OpenAi => openai::build(channel, outgoing),
        ChannelType::Azure => azure::build(channel, outgoing),
        ChannelType::Anthropic => anthropic::build(channel, outgoing),
        ChannelType::Gemini => gemini::build(channel, outgoing),
        ChannelType::VertexAi => vertex::build(channel, outgoing),
        ChannelType::Bedrock => bedrock::build(channel, outgoing),
    }
}

/// The request that lists a channel's models (the channel test and model sync), `None` for
/// Vertex AI (publisher models are not listed per project).
pub fn model_list_request(
    channel: &Channel,
    amz_date: &str,
) -> Result<Option<UpstreamRequest>, ApiError> {
    Ok(Some(match channel.kind {
        ChannelType::OpenAi => openai::model_list(channel),
        ChannelType::Azure => azure::model_list(channel),
        ChannelType::Anthropic => anthropic::model_list(channel),
        ChannelType::Gemini => gemini::model_list(channel),
        ChannelType::Bedrock => bedrock::model_list(channel, amz_date)?,
        ChannelType::VertexAi => return Ok(None),
    }))
}

/// Model ids from a model-list answer of `kind`.
pub fn parse_model_list(kind: ChannelType, body: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let ids = |items: Option<&Value>, key: &str| -> Vec<String> {
        items
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| item.get(key).and_then(Value::as_str))
            .map(|id| id.strip_prefix("models/").unwrap_or(id).to_owned())
            .collect()
    };
    match kind {
        ChannelType::Gemini | ChannelType::VertexAi => ids(value.get("models"), "name"),
        ChannelType::Bedrock => ids(value.get("modelSummaries"), "modelId"),
        _ => ids(value.get("data"), "id"),
    }
}

/// `base_url` without its trailing `/`, or `default`.
pub(crate) fn origin_or(base_url: &str, default: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.is_empty() {
        default.to_owned()
    } else {
        base.to_owned()
    }
}

/// Splits a base URL into origin and path prefix: `https://h/x/y` → (`https://h`, `/x/y`).
pub(crate) fn split_base(base: &str) -> (String, String) {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    match base[after_scheme..].find('/') {
        Some(slash) => {
            let at = after_scheme + slash;
            (
                base[..at].to_owned(),
                base[at..].trim_end_matches('/').to_owned(),
            )
        }
        None => (base.to_owned(), String::new()),
    }
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// JSON content headers.
pub(crate) fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

/// The body as a JSON object, for providers that edit it.
pub(crate) fn body_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "the request body must be a JSON object",
        )),
    }
}

/// An operation the channel type cannot do.
pub(crate) fn unsupported(kind: ChannelType, op: Op) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!("{op:?} is not supported by {kind:?} channels"),
    )
}

#[cfg(test)]
mod tests;
