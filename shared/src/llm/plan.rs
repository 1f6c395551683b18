//! The relay's one call per request on the way up: from what the client sent (its
//! [`Ingress`], body and the model it asked for) and the chosen channel's type and upstream
//! model, the body to send, in which format, streaming or not, and how the answer must be
//! turned back ([`Plan::client_stream`] for streams, [`crate::llm::convert_response`] for
//! complete answers). Same format: the body is touched only to set the mapped model and ask
//! an OpenAI stream for its usage chunk.

use serde_json::{Value, json};

use super::convert::{
    convert_response, embeddings, request_from_ir, request_to_ir, response_to_ir,
};
use super::errors::{ApiError, ErrorKind};
use super::format::{ApiFormat, Op};
use super::ingress::Ingress;
use super::provider::{ChannelCaps, ChannelType};
use super::transcode::ClientStream;
use super::usage::Usage;

/// What to send upstream and how to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The upstream body's format.
    pub upstream_format: ApiFormat,
    /// The upstream operation (an OpenAI embedding becomes a Gemini batch and back).
    pub upstream_op: Op,
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
    channel: impl Into<ChannelCaps>,
    client_body: &[u8],
    upstream_model: &str,
) -> Result<Plan, ApiError> {
    let channel: ChannelCaps = channel.into();
    if matches!(ingress.op, Op::Embed | Op::BatchEmbed)
        && let Some(plan) = embeddings(ingress, channel.kind, client_body, upstream_model)?
    {
        return Ok(plan);
    }
    let upstream_format = if ingress.op == Op::Generate {
        channel.upstream_format(ingress.format, upstream_model)
    } else {
        ingress.format
    };
    if ingress.op == Op::CountTokens
        && channel.upstream_format(ingress.format, upstream_model) != ingress.format
    {
        // Counting is not converted: a channel of another format would be sent a body it
        // cannot read.
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "counting tokens is not supported for {:?} requests on {:?} channels",
                ingress.format, channel
            ),
        ));
    }
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
        upstream_op: ingress.op,
        body,
        stream: request.stream,
        client_wants_usage: request.include_usage,
        converted: true,
        max_tokens: request.max_tokens,
    })
}

/// Embeddings across OpenAI and Gemini; `None` when the channel speaks the client's format.
fn embeddings(
    ingress: &Ingress,
    channel: ChannelType,
    client_body: &[u8],
    upstream_model: &str,
) -> Result<Option<Plan>, ApiError> {
    let to_gemini = ingress.format == ApiFormat::OpenAiEmbeddings && channel == ChannelType::Gemini;
    let to_openai = ingress.format == ApiFormat::Gemini
        && matches!(channel, ChannelType::OpenAi | ChannelType::Azure);
    if !to_gemini && !to_openai {
        return Ok(None);
    }
    let body: Value = serde_json::from_slice(client_body).map_err(|e| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let (upstream_format, upstream_op, out) = if to_gemini {
        (
            ApiFormat::Gemini,
            Op::BatchEmbed,
            embeddings::openai_to_gemini(&body, upstream_model)?,
        )
    } else {
        (
            ApiFormat::OpenAiEmbeddings,
            Op::Embed,
            embeddings::gemini_to_openai(&body, ingress.op, upstream_model)?,
        )
    };
    Ok(Some(Plan {
        upstream_format,
        upstream_op,
        body: out.to_string().into_bytes(),
        stream: false,
        client_wants_usage: false,
        converted: true,
        max_tokens: None,
    }))
}

impl Plan {
    /// A complete upstream answer for the client, with the usage read from it (`None` when
    /// the format is not one the IR reads, e.g. unconverted embeddings or images: read it
    /// with `usage::usage_from_json`). Unconverted answers go out unchanged.
    pub fn answer(
        &self,
        ingress: &Ingress,
        upstream_body: &[u8],
        client_model: &str,
    ) -> Result<(Vec<u8>, Option<Usage>), ApiError> {
        let embedding = matches!(self.upstream_op, Op::Embed | Op::BatchEmbed);
        if !self.converted {
            let usage = (self.upstream_format.is_convertible() && self.upstream_op == Op::Generate)
                .then(|| {
                    response_to_ir(self.upstream_format, upstream_body)
                        .ok()
                        .map(|r| r.usage)
                })
                .flatten();
            return Ok((upstream_body.to_vec(), usage));
        }
        if embedding {
            let value: Value = serde_json::from_slice(upstream_body).map_err(|e| {
                ApiError::new(
                    ErrorKind::Internal,
                    format!("the upstream answer is not JSON: {e}"),
                )
            })?;
            let (answer, usage) = if self.upstream_format == ApiFormat::Gemini {
                embeddings::answer_gemini_to_openai(&value, client_model)
            } else {
                embeddings::answer_openai_to_gemini(&value, ingress.op)
            };
            let usage = (usage != Usage::default()).then_some(usage);
            return Ok((answer.to_string().into_bytes(), usage));
        }
        let (body, usage) = convert_response(
            self.upstream_format,
            ingress.format,
            upstream_body,
            client_model,
        )?;
        Ok((body, Some(usage)))
    }
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
        upstream_op: ingress.op,
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
    use crate::llm::convert::samples::{GEMINI_REQUEST, OPENAI_CHAT_REQUEST, RESPONSES_REQUEST};
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
    fn responses_to_a_chat_only_channel_become_chat_completions() {
        let ingress = post("/v1/responses");
        let native = plan_request(
            &ingress,
            ChannelType::OpenAi,
            RESPONSES_REQUEST.as_bytes(),
            "gpt-5",
        )
        .unwrap();
        assert_eq!(native.upstream_format, ApiFormat::OpenAiResponses);
        assert!(!native.converted);
        let chat_only = ChannelCaps {
            kind: ChannelType::OpenAi,
            responses_api: false,
        };
        let plan = plan_request(
            &ingress,
            chat_only,
            RESPONSES_REQUEST.as_bytes(),
            "gpt-5-chat",
        )
        .unwrap();
        assert_eq!(plan.upstream_format, ApiFormat::OpenAiChat);
        assert!(plan.converted);
        let sent: Value = serde_json::from_slice(&plan.body).unwrap();
        assert_eq!(sent["model"], "gpt-5-chat");
        assert!(sent["messages"].is_array(), "{sent}");
        assert!(sent.get("input").is_none(), "{sent}");
        // Chat completions on a chat-only channel pass through as ever.
        let chat = plan_request(
            &post("/v1/chat/completions"),
            chat_only,
            OPENAI_CHAT_REQUEST.as_bytes(),
            "gpt-5-chat",
        )
        .unwrap();
        assert!(!chat.converted);
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
    fn embeddings_cross_between_openai_and_gemini() {
        let ingress = post("/v1/embeddings");
        let plan = plan_request(
            &ingress,
            ChannelType::Gemini,
            br#"{"model":"e","input":["a","b"]}"#,
            "gemini-embedding-001",
        )
        .unwrap();
        assert_eq!(
            (plan.upstream_format, plan.upstream_op),
            (ApiFormat::Gemini, Op::BatchEmbed)
        );
        let sent: Value = serde_json::from_slice(&plan.body).unwrap();
        assert_eq!(sent["requests"][0]["model"], "models/gemini-embedding-001");
        let (answer, usage) = plan
            .answer(
                &ingress,
                br#"{"embeddings":[{"values":[1.0]},{"values":[2.0]}]}"#,
                "e",
            )
            .unwrap();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["data"][1]["embedding"], json!([2.0]));
        assert_eq!(usage, None, "Gemini reports no usage: the relay estimates");

        let ingress = post("/v1beta/models/text-embedding-004:embedContent");
        let plan = plan_request(
            &ingress,
            ChannelType::OpenAi,
            br#"{"content":{"parts":[{"text":"hi"}]}}"#,
            "text-embedding-3-small",
        )
        .unwrap();
        assert_eq!(
            (plan.upstream_format, plan.upstream_op),
            (ApiFormat::OpenAiEmbeddings, Op::Embed)
        );
        let (answer, usage) = plan
            .answer(&ingress, br#"{"data":[{"index":0,"embedding":[0.5]}],"usage":{"prompt_tokens":2,"total_tokens":2}}"#, "x")
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&answer).unwrap(),
            json!({"embedding": {"values": [0.5]}})
        );
        assert_eq!(usage.unwrap().input_tokens, 2);
    }

    #[test]
    fn answers_converted_or_passed_on() {
        use crate::llm::convert::samples::ANTHROPIC_RESPONSE;
        let ingress = post("/v1/chat/completions");
        let plan = plan_request(
            &ingress,
            ChannelType::Anthropic,
            OPENAI_CHAT_REQUEST.as_bytes(),
            "claude",
        )
        .unwrap();
        let (answer, usage) = plan
            .answer(&ingress, ANTHROPIC_RESPONSE.as_bytes(), "gpt-4o")
            .unwrap();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["model"], "gpt-4o");
        assert_eq!(usage.unwrap().cache_creation_tokens, 2048);
        let ingress = post("/v1/messages");
        let plan = plan_request(
            &ingress,
            ChannelType::Anthropic,
            br#"{"model":"c","max_tokens":5,"messages":[]}"#,
            "c",
        )
        .unwrap();
        let (answer, usage) = plan
            .answer(&ingress, ANTHROPIC_RESPONSE.as_bytes(), "c")
            .unwrap();
        assert_eq!(answer, ANTHROPIC_RESPONSE.as_bytes());
        assert_eq!(usage.unwrap().input_tokens, 4320);
    }

    #[test]
    fn token_counts_are_not_sent_to_channels_of_another_format() {
        let count = post("/v1/messages/count_tokens");
        let body = br#"{"model":"c","messages":[]}"#;
        let plan = plan_request(&count, ChannelType::Anthropic, body, "c").unwrap();
        assert_eq!(plan.upstream_op, Op::CountTokens);
        for channel in [ChannelType::OpenAi, ChannelType::Gemini] {
            let error = plan_request(&count, channel, body, "c").unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidRequest);
        }
        let gemini = post("/v1beta/models/g:countTokens");
        assert!(plan_request(&gemini, ChannelType::Anthropic, b"{}", "g").is_err());
        assert!(plan_request(&gemini, ChannelType::VertexAi, b"{}", "gemini-2.5-pro").is_ok());
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
