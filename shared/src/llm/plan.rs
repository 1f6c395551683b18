//! The relay's one call per request on the way up: from what the client sent (its
//! [`Ingress`], body and the model it asked for) and the chosen channel's type and upstream
//! model, the body to send, in which format, streaming or not, and how the answer must be
//! turned back ([`Plan::client_stream`] for streams, [`crate::llm::convert_response`] for
//! complete answers). Same format: the body is touched only to set the mapped model and ask
//! an OpenAI stream for its usage chunk.

use serde_json::{Value, json};

use super::convert::{request_from_ir, request_to_ir};
use super::errors::{ApiError, ErrorKind};
use super::format::{ApiFormat, Op};
use super::ingress::Ingress;
use super::provider::ChannelType;
use super::transcode::ClientStream;

/// What to send upstream and how to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The upstream body's format.
    pub upstream_format: ApiFormat,
    /// The body to send (the upstream's format, the upstream's model).
    pub body: Vec<u8>,
    /// A streamed answer was asked for.
    pub stream: bool,
    /// The client itself asked for OpenAI's usage chunk.
    pub client_wants_usage: bool,
    /// The body was converted to another format.
    pub converted: bool,
    /// The most tokens the client allowed, when it said (for admission's cost bound).
    pub max_tokens: Option<u64>,
}

impl Plan {
    /// How the client wants its stream, showing it `client_model`.
    pub fn client_stream(&self, ingress: &Ingress, client_model: &str) -> ClientStream {
        ClientStream {
            format: ingress.format,
            sse: ingress.sse,
            include_usage: self.client_wants_usage,
            model: client_model.to_owned(),
        }
    }
}

/// Plans one request. Errors are the client's (400), in its own terms.
pub fn plan_request(
    ingress: &Ingress,
    channel: ChannelType,
    client_body: &[u8],
    upstream_model: &str,
) -> Result<Plan, ApiError> {
    let upstream_format = if ingress.op == Op::Generate {
        channel.upstream_format(ingress.format, upstream_model)
    } else {
        ingress.format
    };
    if upstream_format == ingress.format
        || !ingress.format.is_convertible()
        || !upstream_format.is_convertible()
    {
        if upstream_format != ingress.format && ingress.op == Op::Generate {
            return Err(ApiError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "{:?} requests cannot be served by this channel",
                    ingress.format
                ),
            ));
        }
        return same_format(ingress, client_body, upstream_model);
    }
    let mut request = request_to_ir(
        ingress.format,
        client_body,
        ingress.model_from_path.as_deref(),
    )?;
    request.stream |= ingress.stream_from_path;
    request.model = upstream_model.to_owned();
    let body = request_from_ir(upstream_format, &request)?
        .to_string()
        .into_bytes();
    Ok(Plan {
        upstream_format,
        body,
        stream: request.stream,
        client_wants_usage: request.include_usage,
        converted: true,
        max_tokens: request.max_tokens,
    })
}

fn same_format(
    ingress: &Ingress,
    client_body: &[u8],
    upstream_model: &str,
) -> Result<Plan, ApiError> {
    let mut body: Value = serde_json::from_slice(client_body).map_err(|e| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let Some(object) = body.as_object_mut() else {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            "the request body must be a JSON object",
        ));
    };
    let stream = ingress.stream_from_path
        || object
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let client_wants_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut changed = false;
    if ingress.format != ApiFormat::Gemini
        && body.get("model").and_then(Value::as_str) != Some(upstream_model)
    {
        body["model"] = json!(upstream_model);
        changed = true;
    }
    let takes_stream_options = matches!(
        ingress.format,
        ApiFormat::OpenAiChat | ApiFormat::OpenAiCompletions
    );
    if stream && takes_stream_options && !client_wants_usage {
        match body
            .get_mut("stream_options")
            .and_then(Value::as_object_mut)
        {
            Some(options) => {
                options.insert("include_usage".into(), json!(true));
            }
            None => body["stream_options"] = json!({"include_usage": true}),
        }
        changed = true;
    }
    let max_tokens = ["max_completion_tokens", "max_tokens", "max_output_tokens"]
        .iter()
        .find_map(|key| body.get(*key).and_then(Value::as_u64))
        .or_else(|| {
            body.pointer("/generationConfig/maxOutputTokens")
                .and_then(Value::as_u64)
        });
    Ok(Plan {
        upstream_format: ingress.format,
        body: if changed {
            body.to_string().into_bytes()
        } else {
            client_body.to_vec()
        },
        stream,
        client_wants_usage,
        converted: false,
        max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::convert::samples::{GEMINI_REQUEST, OPENAI_CHAT_REQUEST};
    use crate::llm::ingress::recognise;

    fn post(path: &str) -> Ingress {
        recognise("POST", path, |_| None).unwrap()
    }

    #[test]
    fn same_format_sets_the_model_and_asks_for_usage() {
        let ingress = post("/v1/chat/completions");
        let body =
            br#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let plan = plan_request(&ingress, ChannelType::OpenAi, body, "gpt-4o-2024-08-06").unwrap();
        assert!(!plan.converted && plan.stream && !plan.client_wants_usage);
        let sent: Value = serde_json::from_slice(&plan.body).unwrap();
        assert_eq!(sent["model"], "gpt-4o-2024-08-06");
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
        // Unchanged bodies go out as they came.
        let body = br#"{"model":"m","messages":[]}"#;
        assert_eq!(
            plan_request(&ingress, ChannelType::OpenAi, body, "m")
                .unwrap()
                .body,
            body.to_vec()
        );
    }

    #[test]
    fn converted_for_another_channel_type() {
        let ingress = post("/v1/chat/completions");
        let plan = plan_request(
            &ingress,
            ChannelType::Anthropic,
            OPENAI_CHAT_REQUEST.as_bytes(),
            "claude-sonnet-4-5",
        )
        .unwrap();
        assert_eq!(plan.upstream_format, ApiFormat::Anthropic);
        assert!(plan.converted && plan.stream && plan.client_wants_usage);
        assert_eq!(plan.max_tokens, Some(512));
        let sent: Value = serde_json::from_slice(&plan.body).unwrap();
        assert_eq!(sent["model"], "claude-sonnet-4-5");
        let stream = plan.client_stream(&ingress, "gpt-4o");
        assert_eq!(
            (stream.format, stream.include_usage, stream.model.as_str()),
            (ApiFormat::OpenAiChat, true, "gpt-4o")
        );
    }

    #[test]
    fn gemini_stream_from_the_path() {
        let ingress = post("/v1beta/models/gemini-2.5-flash:streamGenerateContent");
        let plan = plan_request(
            &ingress,
            ChannelType::OpenAi,
            GEMINI_REQUEST.as_bytes(),
            "gpt-4o-mini",
        )
        .unwrap();
        assert!(plan.stream);
        let sent: Value = serde_json::from_slice(&plan.body).unwrap();
        assert_eq!(sent["stream"], true);
        assert_eq!(sent["model"], "gpt-4o-mini");
        assert!(
            !plan.client_stream(&ingress, "gemini-2.5-flash").sse,
            "the client gets a JSON array"
        );
        let same = plan_request(
            &ingress,
            ChannelType::Gemini,
            GEMINI_REQUEST.as_bytes(),
            "gemini-2.5-flash",
        )
        .unwrap();
        assert!(same.stream && !same.converted);
        assert_eq!(
            same.body,
            GEMINI_REQUEST.as_bytes().to_vec(),
            "Gemini's model is in the path"
        );
    }

    #[test]
    fn embeddings_cannot_cross_formats_and_bad_json_is_refused() {
        let ingress = post("/v1/embeddings");
        let plan = plan_request(
            &ingress,
            ChannelType::Azure,
            br#"{"model":"e","input":"x"}"#,
            "e",
        )
        .unwrap();
        assert_eq!(plan.upstream_format, ApiFormat::OpenAiEmbeddings);
        let error =
            plan_request(&post("/v1/messages"), ChannelType::Anthropic, b"{", "c").unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        let error = plan_request(
            &post("/v1/responses"),
            ChannelType::Gemini,
            b"{\"input\":\"hi\"}",
            "g",
        );
        assert!(
            error.is_ok(),
            "Responses requests convert for Gemini channels"
        );
    }
}
