//! Where one attempt goes and what it sends. An OpenAI-format request to an OpenAI-compatible
//! channel takes today's hot path: the client's path under the channel's prefix, `Bearer`, and
//! the body untouched unless the model or limit must change. Every other pair goes through the
//! formats layer: [`llm::plan_request`] (converted or passed on) and [`provider::build`] (the
//! channel type's URL, authentication and body; Vertex with its cached OAuth token, Bedrock
//! signed for now).

use super::errors::RelayError;
use super::request::RelayRequest;
use super::snapshot::{ChannelEntry, Upstream};
use super::translated::Shape;
use super::vertex_tokens::TokenCache;
use bytes::Bytes;
use pingora::http::RequestHeader;
use pylon_shared::llm::provider::{self, sigv4};
use pylon_shared::llm::{self, ChannelType, Family, Outgoing};
use std::borrow::Cow;

/// Client headers handed to the formats layer (it decides which go upstream).
const PASSED_TO_PROVIDER: [&str; 2] = ["anthropic-version", "anthropic-beta"];

/// Where and what to send.
pub struct Target<'a> {
    pub upstream: Cow<'a, Upstream>,
    /// Path and query.
    pub path: String,
    /// Headers of the request itself (authentication and content type), lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// A streamed answer was asked for.
    pub stream: bool,
    /// How the answer is turned back for the client; `None` on the OpenAI hot path.
    pub shape: Option<Shape>,
}

/// Why no request could be built.
pub enum TargetError {
    /// The client's request cannot be served (its own error, no other channel tried).
    Client(RelayError),
    /// This channel cannot be used now (another may be).
    Channel(String),
}

/// The request for `channel` with `key`.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the parts of an attempt"
)]
pub async fn target<'a>(
    channel: &'a ChannelEntry,
    key: &str,
    request: &RelayRequest,
    upstream_model: &str,
    completion_limit: Option<i64>,
    path_and_query: &str,
    client: &RequestHeader,
    tokens: &TokenCache,
) -> Result<Target<'a>, TargetError> {
    let caps = channel.caps();
    let speaks_client_format =
        caps.upstream_format(request.ingress.format, upstream_model) == request.ingress.format;
    if channel.kind == ChannelType::OpenAi
        && request.ingress.format.family() == Family::OpenAi
        && speaks_client_format
    {
        let body = request
            .upstream_body(upstream_model, completion_limit)
            .map_err(TargetError::Client)?;
        let content_type = request
            .content_type
            .clone()
            .unwrap_or_else(|| "application/json".into());
        return Ok(Target {
            upstream: Cow::Borrowed(&channel.upstream),
            path: format!("{}{}", channel.upstream.path_prefix, path_and_query),
            headers: vec![
                ("authorization".into(), format!("Bearer {key}")),
                ("content-type".into(), content_type),
            ],
            body,
            stream: request.stream,
            shape: None,
        });
    }
    let client_body = request
        .limited_body(completion_limit)
        .map_err(TargetError::Client)?;
    let mut plan = llm::plan_request(&request.ingress, caps, &client_body, upstream_model)
        .map_err(|e| TargetError::Client(RelayError::from_api(&e)))?;
    let formats_channel = llm::Channel {
        kind: channel.kind,
        base_url: channel.base_url.clone(),
        key: key.to_string(),
        other: channel.other.clone(),
    };
    let access_token = match channel.kind {
        // Boxed: the token exchange is an HTTP client's future (about 11 KiB), which would
        // otherwise size every relayed request's state, not only Vertex AI's.
        ChannelType::VertexAi => Some(
            Box::pin(tokens.token(&formats_channel))
                .await
                .map_err(|e| TargetError::Channel(format!("channel #{}: {e}", channel.id)))?,
        ),
        _ => None,
    };
    let now = u64::try_from(pylon_shared::db::now_secs()).unwrap_or(0);
    let passed_headers = PASSED_TO_PROVIDER
        .iter()
        .filter_map(|name| {
            let value = client.headers.get(*name)?.to_str().ok()?;
            Some(((*name).to_string(), value.to_string()))
        })
        .collect();
    let outgoing = Outgoing {
        format: plan.upstream_format,
        op: plan.upstream_op,
        model: upstream_model,
        stream: plan.stream,
        body: std::mem::take(&mut plan.body),
        relay_path: path_and_query,
        passed_headers,
        access_token: access_token.as_deref(),
        amz_date: &sigv4::amz_date(now),
    };
    let built = provider::build(&formats_channel, outgoing)
        .map_err(|e| TargetError::Client(RelayError::from_api(&e)))?;
    let upstream = Upstream::parse(&built.origin).ok_or_else(|| {
        TargetError::Channel(format!(
            "channel #{} has an unusable base URL ({})",
            channel.id, built.origin
        ))
    })?;
    Ok(Target {
        upstream: Cow::Owned(upstream),
        path: built.path_and_query,
        headers: built.headers,
        body: Bytes::from(built.body),
        stream: plan.stream,
        shape: Some(Shape {
            bedrock: channel.kind == ChannelType::Bedrock,
            ingress: request.ingress.clone(),
            client_model: request.model.clone(),
            plan,
        }),
    })
}
