//! OpenAI and OpenAI-compatible channels (type 1): `{base}/v1/...`, `Authorization: Bearer`.

use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, json_headers, origin_or, split_base,
    unsupported,
};
use crate::llm::errors::ApiError;
use crate::llm::format::{ApiFormat, Op};

/// OpenAI's API.
pub const DEFAULT_BASE: &str = "https://api.openai.com";

/// The path of an OpenAI endpoint, for a base URL that may already end in `/v1`.
pub(crate) fn endpoint(format: ApiFormat, op: Op) -> Option<&'static str> {
    Some(match (format, op) {
        (ApiFormat::OpenAiChat, Op::Generate) => "/chat/completions",
        (ApiFormat::OpenAiCompletions, Op::Generate) => "/completions",
        (ApiFormat::OpenAiResponses, Op::Generate) => "/responses",
        (ApiFormat::OpenAiEmbeddings, Op::Embed) => "/embeddings",
        _ => return None,
    })
}

/// `(origin, prefix)` where prefix ends in `/v1` (added unless the base has a version path).
fn origin_and_prefix(channel: &Channel) -> (String, String) {
    let (origin, path) = split_base(&origin_or(&channel.base_url, DEFAULT_BASE));
    let versioned = path.rsplit('/').next().is_some_and(|last| {
        last.len() >= 2 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit())
    });
    let prefix = if versioned {
        path
    } else {
        format!("{path}/v1")
    };
    (origin, prefix)
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    let (origin, prefix) = origin_and_prefix(channel);
    let path_and_query = match endpoint(outgoing.format, outgoing.op) {
        Some(endpoint) => format!("{prefix}{endpoint}"),
        None if outgoing.op == Op::Relay => {
            let relay = outgoing
                .relay_path
                .strip_prefix("/v1")
                .unwrap_or(outgoing.relay_path);
            format!("{prefix}{relay}")
        }
        None => return Err(unsupported(ChannelType::OpenAi, outgoing.op)),
    };
    let mut headers = json_headers();
    headers.push((
        "authorization".into(),
        format!("Bearer {}", channel.key.trim()),
    ));
    if outgoing.stream {
        headers.push(("accept".into(), "text/event-stream".into()));
    }
    Ok(UpstreamRequest {
        method: "POST",
        origin,
        path_and_query,
        headers,
        body: outgoing.body,
    })
}

pub(super) fn model_list(channel: &Channel) -> UpstreamRequest {
    let (origin, prefix) = origin_and_prefix(channel);
    UpstreamRequest {
        method: "GET",
        origin,
        path_and_query: format!("{prefix}/models"),
        headers: vec![(
            "authorization".into(),
            format!("Bearer {}", channel.key.trim()),
        )],
        body: Vec::new(),
    }
}
