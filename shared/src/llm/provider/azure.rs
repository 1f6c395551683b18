//! Azure OpenAI channels (type 3): `{base}/openai/deployments/{deployment}/{endpoint}
//! ?api-version=...` with an `api-key` header. The deployment is the model name without dots
//! (Azure does not allow them: `gpt-3.5-turbo` is deployed as `gpt-35-turbo`), as new-api does.

use super::openai::endpoint;
use super::{
    Channel, ChannelType, Outgoing, UpstreamRequest, json_headers, split_base, unsupported,
};
use crate::llm::errors::{ApiError, ErrorKind};
use crate::llm::format::Op;

/// The API version when the channel names none.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

fn api_version(channel: &Channel) -> &str {
    let version = channel.other.trim();
    if version.is_empty() {
        DEFAULT_API_VERSION
    } else {
        version
    }
}

fn origin(channel: &Channel) -> Result<String, ApiError> {
    let base = channel.base_url.trim().trim_end_matches('/');
    if base.is_empty() {
        return Err(ApiError::new(
            ErrorKind::Internal,
            "an Azure channel needs its resource URL as base URL",
        ));
    }
    Ok(split_base(base).0)
}

pub(super) fn build(
    channel: &Channel,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamRequest, ApiError> {
    let origin = origin(channel)?;
    let deployment = super::encode_segment(&outgoing.model.replace('.', ""));
    let endpoint = match endpoint(outgoing.format, outgoing.op) {
        Some(endpoint) => endpoint.to_owned(),
        None if outgoing.op == Op::Relay => outgoing
            .relay_path
            .split('?')
            .next()
            .unwrap_or_default()
            .strip_prefix("/v1")
            .unwrap_or(outgoing.relay_path)
            .to_owned(),
        None => return Err(unsupported(ChannelType::Azure, outgoing.op)),
    };
    let path_and_query = if endpoint == "/responses" {
        format!("/openai/responses?api-version={}", api_version(channel))
    } else {
        format!(
            "/openai/deployments/{deployment}{endpoint}?api-version={}",
            api_version(channel)
        )
    };
    let mut headers = json_headers();
    headers.push(("api-key".into(), channel.key.trim().to_owned()));
    Ok(UpstreamRequest {
        method: "POST",
        origin,
        path_and_query,
        headers,
        body: outgoing.body,
    })
}

pub(super) fn model_list(channel: &Channel) -> UpstreamRequest {
    UpstreamRequest {
        method: "GET",
        origin: origin(channel).unwrap_or_default(),
        path_and_query: format!("/openai/models?api-version={}", api_version(channel)),
        headers: vec![("api-key".into(), channel.key.trim().to_owned())],
        body: Vec::new(),
    }
}
