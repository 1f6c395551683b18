//! Gemini API channels (type 24): `{base}/v1beta/models/{model}:{action}`, `x-goog-api-key`.
//! Streams are always asked for as SSE (`alt=sse`); a client that wants the JSON array gets
//! it from the transcoder.

use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, encode_segment, json_headers, origin_or,
    split_base, unsupported,
};
use crate::llm::errors::ApiError;
use crate::llm::format::Op;

/// Google's Generative Language API.
pub const DEFAULT_BASE: &str = "https://generativelanguage.googleapis.com";

/// The `:{action}` (and query) of a Gemini operation.
pub(crate) fn action(op: Op, stream: bool) -> Option<&'static str> {
    Some(match (op, stream) {
        (Op::Generate, false) => "generateContent",
        (Op::Generate, true) => "streamGenerateContent?alt=sse",
        (Op::CountTokens, _) => "countTokens",
        (Op::Embed, _) => "embedContent",
        (Op::BatchEmbed, _) => "batchEmbedContents",
        _ => return None,
    })
}

fn base(channel: &Channel) -> (String, String) {
    let (origin, path) = split_base(&origin_or(&channel.base_url, DEFAULT_BASE));
    let path = path
        .strip_suffix("/v1beta")
        .map(str::to_owned)
        .unwrap_or(path);
    (origin, path)
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    let (origin, prefix) = base(channel);
    let action = action(outgoing.op, outgoing.stream)
        .ok_or_else(|| unsupported(ChannelType::Gemini, outgoing.op))?;
    let model = outgoing
        .model
        .strip_prefix("models/")
        .unwrap_or(outgoing.model);
    let mut headers = json_headers();
    headers.push(("x-goog-api-key".into(), channel.key.trim().to_owned()));
    Ok(UpstreamRequest {
        method: "POST",
        origin,
        path_and_query: format!("{prefix}/v1beta/models/{}:{action}", encode_segment(model)),
        headers,
        body: outgoing.body,
    })
}

pub(super) fn model_list(channel: &Channel) -> UpstreamRequest {
    let (origin, prefix) = base(channel);
    UpstreamRequest {
        method: "GET",
        origin,
        path_and_query: format!("{prefix}/v1beta/models?pageSize=1000"),
        headers: vec![("x-goog-api-key".into(), channel.key.trim().to_owned())],
        body: Vec::new(),
    }
}
