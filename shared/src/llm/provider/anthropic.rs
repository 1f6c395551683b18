//! Anthropic channels (type 14): `{base}/v1/messages` (and `/count_tokens`), `x-api-key`,
//! `anthropic-version` (the client's, else 2023-06-01) and `anthropic-beta` passed on.

use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, json_headers, origin_or, split_base,
    unsupported,
};
use crate::llm::errors::ApiError;
use crate::llm::format::Op;

/// Anthropic's API.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";
/// The API version sent when the client named none.
pub const DEFAULT_VERSION: &str = "2023-06-01";

fn base(channel: &Channel) -> (String, String) {
    let (origin, path) = split_base(&origin_or(&channel.base_url, DEFAULT_BASE));
    (
        origin,
        path.strip_suffix("/v1").map(str::to_owned).unwrap_or(path),
    )
}

/// `anthropic-version` and `anthropic-beta` from the client's headers (or the default version).
pub(crate) fn version_headers(passed: &[(String, String)]) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    let version = passed
        .iter()
        .find(|(n, _)| n == "anthropic-version")
        .map(|(_, v)| v.clone());
    headers.push((
        "anthropic-version".into(),
        version.unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
    ));
    if let Some((_, beta)) = passed.iter().find(|(n, _)| n == "anthropic-beta") {
        headers.push(("anthropic-beta".into(), beta.clone()));
    }
    headers
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    let (origin, prefix) = base(channel);
    let path = match outgoing.op {
        Op::Generate => "/v1/messages",
        Op::CountTokens => "/v1/messages/count_tokens",
        op => return Err(unsupported(ChannelType::Anthropic, op)),
    };
    let mut headers = json_headers();
    headers.push(("x-api-key".into(), channel.key.trim().to_owned()));
    headers.extend(version_headers(&outgoing.passed_headers));
    Ok(UpstreamRequest {
        method: "POST",
        origin,
        path_and_query: format!("{prefix}{path}"),
        headers,
        body: outgoing.body,
    })
}

pub(super) fn model_list(channel: &Channel) -> UpstreamRequest {
    let (origin, prefix) = base(channel);
    let mut headers = vec![("x-api-key".into(), channel.key.trim().to_owned())];
    headers.extend(version_headers(&[]));
    UpstreamRequest {
        method: "GET",
        origin,
        path_and_query: format!("{prefix}/v1/models?limit=1000"),
        headers,
        body: Vec::new(),
    }
}
