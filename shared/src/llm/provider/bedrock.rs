//! AWS Bedrock channels (type 33), Claude models: `https://bedrock-runtime.{region}.
//! amazonaws.com/model/{model}/invoke` (or `/invoke-with-response-stream`), signed with SigV4
//! (key `AK|SK|region`, or `AK|SK|region|session-token`) or with a Bedrock API key as Bearer.
//! Bodies are Anthropic's without `model` and `stream`, with `anthropic_version:
//! bedrock-2023-05-31`. Streams come in the event-stream framing; [`StreamAdapter`] turns them
//! back into Anthropic SSE for the transcoder.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use super::eventstream::{Decoder, FrameError};
use super::sigv4::{Credentials, Signable, authorization};
use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, body_object, encode_segment, unsupported,
};
use crate::llm::errors::{ApiError, ErrorKind, kind_of_status};
use crate::llm::format::Op;

/// The `anthropic_version` Bedrock wants in Claude bodies.
pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";
/// The region when neither key nor channel names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How a Bedrock channel authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// SigV4 with these credentials.
    SigV4(Credentials),
    /// A Bedrock API key, sent as a bearer token.
    ApiKey(String),
}

/// Reads a channel's key and region.
pub fn auth_and_region(channel: &Channel) -> (Auth, String) {
    let parts: Vec<&str> = channel.key.trim().split('|').map(str::trim).collect();
    let fallback_region = if channel.other.trim().is_empty() {
        DEFAULT_REGION
    } else {
        channel.other.trim()
    };
    match parts.as_slice() {
        [access, secret, rest @ ..] => {
            let region = rest
                .first()
                .filter(|r| !r.is_empty())
                .map_or(fallback_region, |r| *r);
            let credentials = Credentials {
                access_key_id: (*access).to_owned(),
                secret_access_key: (*secret).to_owned(),
                session_token: rest
                    .get(1)
                    .filter(|t| !t.is_empty())
                    .map(|t| (*t).to_owned()),
            };
            (Auth::SigV4(credentials), region.to_owned())
        }
        _ => (
            Auth::ApiKey(channel.key.trim().to_owned()),
            fallback_region.to_owned(),
        ),
    }
}

/// Adds `host`, `x-amz-date`, the session token and the signature (or the bearer key).
fn authorize(
    auth: &Auth,
    service: &str,
    region: &str,
    amz_date: &str,
    request: &mut UpstreamRequest,
) {
    let host = request
        .origin
        .split_once("://")
        .map_or(request.origin.as_str(), |(_, host)| host)
        .to_owned();
    match auth {
        Auth::ApiKey(key) => request
            .headers
            .push(("authorization".into(), format!("Bearer {key}"))),
        Auth::SigV4(credentials) => {
            request.headers.push(("host".into(), host));
            request
                .headers
                .push(("x-amz-date".into(), amz_date.to_owned()));
            if let Some(token) = &credentials.session_token {
                request
                    .headers
                    .push(("x-amz-security-token".into(), token.clone()));
            }
            let (path, query) = request
                .path_and_query
                .split_once('?')
                .unwrap_or((&request.path_and_query, ""));
            let signable = Signable {
                method: request.method,
                path,
                query,
                headers: &request.headers,
                payload: &request.body,
            };
            let signature = authorization(credentials, region, service, amz_date, &signable);
            request.headers.push(("authorization".into(), signature));
        }
    }
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    if outgoing.op != Op::Generate {
        return Err(unsupported(ChannelType::Bedrock, outgoing.op));
    }
    let (auth, region) = auth_and_region(channel);
    let mut body = body_object(&outgoing.body)?;
    body.remove("model");
    body.remove("stream");
    body.insert("anthropic_version".into(), json!(ANTHROPIC_VERSION));
    let action = if outgoing.stream {
        "invoke-with-response-stream"
    } else {
        "invoke"
    };
    let origin = if channel.base_url.trim().is_empty() {
        format!("https://bedrock-runtime.{region}.amazonaws.com")
    } else {
        super::origin_or(&channel.base_url, "")
    };
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.push((
        "accept".into(),
        if outgoing.stream {
            "application/vnd.amazon.eventstream"
        } else {
            "application/json"
        }
        .into(),
    ));
    if let Some((_, beta)) = outgoing
        .passed_headers
        .iter()
        .find(|(n, _)| n == "anthropic-beta")
    {
        body.insert(
            "anthropic_beta".into(),
            json!(beta.split(',').map(str::trim).collect::<Vec<_>>()),
        );
    }
    let mut request = UpstreamRequest {
        method: "POST",
        origin,
        path_and_query: format!("/model/{}/{action}", encode_segment(outgoing.model)),
        headers,
        body: Value::Object(body).to_string().into_bytes(),
    };
    authorize(&auth, "bedrock", &region, outgoing.amz_date, &mut request);
    Ok(request)
}

pub(super) fn model_list(channel: &Channel, amz_date: &str) -> Result<UpstreamRequest, ApiError> {
    let (auth, region) = auth_and_region(channel);
    let mut request = UpstreamRequest {
        method: "GET",
        origin: format!("https://bedrock.{region}.amazonaws.com"),
        path_and_query: "/foundation-models?byProvider=anthropic".to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    authorize(&auth, "bedrock", &region, amz_date, &mut request);
    Ok(request)
}

/// Turns Bedrock's event-stream answer into the Anthropic SSE it carries (each `chunk`
/// message's payload is `{"bytes": base64 of one Anthropic event}`); exceptions become an
/// Anthropic `error` event.
#[derive(Debug, Default)]
pub struct StreamAdapter {
    decoder: Decoder,
}

impl StreamAdapter {
    /// An adapter.
    pub fn new() -> Self {
        StreamAdapter::default()
    }

    /// One upstream chunk in; Anthropic SSE for every message it completed out. A framing
    /// error means the stream is lost: the caller ends it (the transcoder's `finish`).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Bytes, FrameError> {
        let mut out = Vec::new();
        for message in self.decoder.feed(chunk)? {
            let payload: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
            if message.header_str(":message-type") == Some("exception")
                || message.header_str(":message-type") == Some("error")
            {
                let kind = message
                    .header_str(":exception-type")
                    .or_else(|| message.header_str(":error-code"))
                    .unwrap_or("internalServerException");
                let text = payload
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or(kind);
                let error = ApiError::new(exception_kind(kind), format!("{kind}: {text}"));
                let body = error.render(crate::llm::format::Family::Anthropic).1;
                out.extend_from_slice(b"event: error\ndata: ");
                out.extend_from_slice(&body);
                out.extend_from_slice(b"\n\n");
                continue;
            }
            let Some(encoded) = payload.get("bytes").and_then(Value::as_str) else {
                continue;
            };
            let Ok(event) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
                continue;
            };
            let name = serde_json::from_slice::<Value>(&event)
                .ok()
                .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| "message".to_owned());
            out.extend_from_slice(format!("event: {name}\ndata: ").as_bytes());
            out.extend_from_slice(&event);
            out.extend_from_slice(b"\n\n");
        }
        Ok(Bytes::from(out))
    }
}

/// The kind of a Bedrock exception name.
pub fn exception_kind(name: &str) -> ErrorKind {
    match name {
        "throttlingException" | "ThrottlingException" => ErrorKind::RateLimited,
        "validationException" | "ValidationException" => ErrorKind::InvalidRequest,
        "accessDeniedException" | "AccessDeniedException" => ErrorKind::PermissionDenied,
        "resourceNotFoundException" | "ResourceNotFoundException" => ErrorKind::NotFound,
        "serviceUnavailableException" | "modelNotReadyException" => ErrorKind::Unavailable,
        "modelTimeoutException" => ErrorKind::Timeout,
        _ => kind_of_status(500),
    }
}
