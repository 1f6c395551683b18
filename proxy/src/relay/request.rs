//! The client's request: which endpoint, which model, streaming or not, and the body to send
//! upstream. The body is read whole (routing needs the model, which is inside it) up to
//! `relay.max_body_bytes`, and rewritten only when it must be (model mapping, usage injection).

use super::completion_limit;
use super::errors::RelayError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pylon_shared::llm::{ApiFormat, Ingress, Op};
use pylon_shared::usage::{BodyFormat, StreamFormat};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The relay endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
    Responses,
    ImagesGenerations,
    Moderations,
    AudioSpeech,
    AudioTranscriptions,
    AudioTranslations,
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`.
    CountTokens,
    /// Any Gemini action (`/v1beta/models/{m}:{action}`); the operation is the ingress's.
    Gemini,
}

impl Endpoint {
    /// The endpoint a POST to `path` calls.
    pub fn of_path(path: &str) -> Option<Self> {
        Some(match path.trim_end_matches('/') {
            "/v1/chat/completions" => Self::ChatCompletions,
            "/v1/completions" => Self::Completions,
            "/v1/embeddings" => Self::Embeddings,
            "/v1/responses" => Self::Responses,
            "/v1/images/generations" => Self::ImagesGenerations,
            "/v1/moderations" => Self::Moderations,
            "/v1/audio/speech" => Self::AudioSpeech,
            "/v1/audio/transcriptions" => Self::AudioTranscriptions,
            "/v1/audio/translations" => Self::AudioTranslations,
            _ => return None,
        })
    }

    /// The endpoint of a recognised POST to `path`.
    pub fn of(ingress: &Ingress, path: &str) -> Option<Self> {
        match ingress.format {
            ApiFormat::Anthropic if ingress.op == Op::CountTokens => Some(Self::CountTokens),
            ApiFormat::Anthropic => Some(Self::Messages),
            ApiFormat::Gemini => Some(Self::Gemini),
            _ => Self::of_path(path),
        }
    }

    /// Whether the body is multipart form data rather than JSON.
    pub fn is_multipart(self) -> bool {
        matches!(self, Self::AudioTranscriptions | Self::AudioTranslations)
    }

    /// How a streamed answer of this endpoint carries usage.
    pub fn stream_format(self) -> StreamFormat {
        match self {
            Self::Completions => StreamFormat::OpenAiCompletions,
            Self::Responses => StreamFormat::OpenAiResponses,
            _ => StreamFormat::OpenAiChat,
        }
    }

    /// How a complete (non-streamed) answer of this endpoint carries usage.
    pub fn body_format(self) -> BodyFormat {
        match self {
            Self::Completions => BodyFormat::OpenAiCompletions,
            Self::Embeddings => BodyFormat::OpenAiEmbeddings,
            Self::Responses => BodyFormat::OpenAiResponses,
            _ => BodyFormat::OpenAiChat,
        }
    }

    /// The API format of the endpoint's requests.
    pub fn format(self) -> ApiFormat {
        match self {
            Self::ChatCompletions => ApiFormat::OpenAiChat,
            Self::Completions => ApiFormat::OpenAiCompletions,
            Self::Embeddings => ApiFormat::OpenAiEmbeddings,
            Self::Responses => ApiFormat::OpenAiResponses,
            Self::ImagesGenerations => ApiFormat::OpenAiImages,
            Self::Moderations => ApiFormat::OpenAiModerations,
            Self::AudioSpeech | Self::AudioTranscriptions | Self::AudioTranslations => {
                ApiFormat::OpenAiAudio
            }
            Self::Messages | Self::CountTokens => ApiFormat::Anthropic,
            Self::Gemini => ApiFormat::Gemini,
        }
    }

    /// Whether OpenAI accepts `stream_options.include_usage` here.
    fn takes_stream_options(self) -> bool {
        matches!(self, Self::ChatCompletions | Self::Completions)
    }
}

/// A parsed relay request.
#[derive(Debug)]
pub struct RelayRequest {
    pub endpoint: Endpoint,
    /// What the path and headers said (format, operation, Gemini's model and stream).
    pub ingress: Ingress,
    pub model: String,
    pub stream: bool,
    /// The client itself asked for the usage chunk.
    pub client_wants_usage: bool,
    /// The completion limit the client set, if any (the lowest, if it set several).
    pub max_tokens: Option<i64>,
    /// The body as received.
    pub body: Bytes,
    /// The client's Content-Type, passed upstream unchanged.
    pub content_type: Option<String>,
    /// Top-level fields that session keys are read from, kept as the body's JSON of them.
    pub session_fields: SessionFields,
}

/// The JSON of the top-level body fields that channel affinity rules read session keys from
/// (new-api's default rules: `prompt_cache_key`, `metadata.user_id`), kept by the one parse of
/// the body so that a rule reading them does not read the body again.
#[derive(Debug, Default)]
pub struct SessionFields {
    prompt_cache_key: Option<Bytes>,
    metadata: Option<Bytes>,
}

impl SessionFields {
    /// The JSON of top-level field `name`: `Some(None)` when the body has no such field,
    /// `None` when it is not one of the fields kept (the body must be read for it).
    pub fn get(&self, name: &str) -> Option<Option<&[u8]>> {
        match name {
            "prompt_cache_key" => Some(self.prompt_cache_key.as_deref()),
            "metadata" => Some(self.metadata.as_deref()),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<i64>,
    #[serde(default)]
    max_completion_tokens: Option<i64>,
    #[serde(default)]
    max_output_tokens: Option<i64>,
    #[serde(default, rename = "generationConfig")]
    generation_config: Option<GenerationConfig>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct GenerationConfig {
    #[serde(default, rename = "maxOutputTokens")]
    max_output_tokens: Option<i64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_body(session: &mut Session, limit: usize) -> Result<Bytes, RelayError> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(RelayError::too_large(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(RelayError::too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(RelayError::bad_request(format!(
                    "Could not read the request body: {error}"
                )));
            }
        }
    }
    Ok(body.freeze())
}

impl RelayRequest {
    /// Parses `body` for `endpoint`.
    pub fn parse(
        ingress: Ingress,
        endpoint: Endpoint,
        body: Bytes,
        content_type: Option<String>,
    ) -> Result<Self, RelayError> {
        if endpoint.is_multipart() {
            let boundary = content_type
                .as_deref()
                .and_then(multipart_boundary)
                .ok_or_else(|| RelayError::bad_request("Expected a multipart/form-data body"))?;
            let model = multipart_field(&body, boundary, "model")
                .filter(|m| !m.is_empty())
                .ok_or_else(|| RelayError::bad_request("you must provide a model parameter"))?;
            return Ok(Self {
                endpoint,
                ingress,
                model,
                stream: false,
                client_wants_usage: false,
                max_tokens: None,
                body,
                content_type,
                session_fields: SessionFields::default(),
            });
        }
        let peek: Peek<'_> = serde_json::from_slice(&body)
            .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))?;
        let model = ingress
            .model_from_path
            .clone()
            .map(|m| m.strip_prefix("models/").map(str::to_string).unwrap_or(m))
            .or_else(|| peek.model.map(Cow::into_owned))
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| RelayError::bad_request("you must provide a model parameter"))?;
        let stream = ingress.stream_from_path || peek.stream.unwrap_or(false);
        let client_wants_usage = peek
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let max_tokens = [
            peek.max_tokens,
            peek.max_completion_tokens,
            peek.max_output_tokens,
            peek.generation_config.and_then(|g| g.max_output_tokens),
        ]
        .into_iter()
        .flatten()
        .filter(|m| *m > 0)
        .min();
        let kept = |raw: Option<&RawValue>| raw.map(|raw| body.slice_ref(raw.get().as_bytes()));
        let session_fields = SessionFields {
            prompt_cache_key: kept(peek.prompt_cache_key),
            metadata: kept(peek.metadata),
        };
        Ok(Self {
            endpoint,
            ingress,
            model,
            stream,
            client_wants_usage,
            max_tokens,
            body,
            content_type,
            session_fields,
        })
    }

    /// Whether the relay adds `stream_options.include_usage` (and strips the usage chunk again).
    pub fn injects_usage(&self) -> bool {
        self.stream && self.endpoint.takes_stream_options() && !self.client_wants_usage
    }

    /// The client's body with only its completion limit lowered to `completion_limit` (for
    /// the formats layer, which maps the model and converts): the original bytes when nothing
    /// changes.
    pub fn limited_body(&self, completion_limit: Option<i64>) -> Result<Bytes, RelayError> {
        let format = self.endpoint.format();
        let Some(limit) = completion_limit
            .filter(|_| self.ingress.op == Op::Generate && completion_limit::has_limit(format))
        else {
            return Ok(self.body.clone());
        };
        let mut value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.body)
                .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))?;
        if !completion_limit::lower_limit(format, &mut value, limit) {
            return Ok(self.body.clone());
        }
        serde_json::to_vec(&value)
            .map(Bytes::from)
            .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))
    }

    /// The body to send upstream for `upstream_model`, with the completion limit lowered to
    /// `completion_limit` when given: the original bytes when nothing changes (no copy), else
    /// a rewritten copy.
    pub fn upstream_body(
        &self,
        upstream_model: &str,
        completion_limit: Option<i64>,
    ) -> Result<Bytes, RelayError> {
        let format = self.endpoint.format();
        let remap = upstream_model != self.model && !self.endpoint.is_multipart();
        let inject = self.injects_usage();
        let limit = completion_limit.filter(|_| completion_limit::has_limit(format));
        if !remap && !inject && limit.is_none() {
            return Ok(self.body.clone());
        }
        let mut value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.body)
                .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))?;
        if remap {
            value.insert(
                "model".into(),
                serde_json::Value::String(upstream_model.to_string()),
            );
        }
        if let Some(limit) = limit {
            completion_limit::lower_limit(format, &mut value, limit);
        }
        if inject {
            let options = value
                .entry("stream_options")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(options) = options.as_object_mut() {
                options.insert("include_usage".into(), serde_json::Value::Bool(true));
            } else {
                *options = serde_json::json!({ "include_usage": true });
            }
        }
        serde_json::to_vec(&value)
            .map(Bytes::from)
            .map_err(|e| RelayError::bad_request(format!("Invalid JSON body: {e}")))
    }
}

pub(crate) fn multipart_boundary(content_type: &str) -> Option<&str> {
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
}

/// The text value of form field `name` in a multipart body.
pub(crate) fn multipart_field(body: &[u8], boundary: &str, name: &str) -> Option<String> {
    let range = multipart_field_range(body, boundary, name)?;
    Some(String::from_utf8_lossy(&body[range]).trim().to_string())
}

/// Where the value of text field `name` lies in a multipart body (without the CRLF that ends
/// it).
pub(crate) fn multipart_field_range(
    body: &[u8],
    boundary: &str,
    name: &str,
) -> Option<std::ops::Range<usize>> {
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut start = 0;
    while let Some(pos) = find(&text[start..], delimiter.as_bytes()) {
        let part_start = start + pos + delimiter.len();
        let rest = &text[part_start..];
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]);
        let next = find(&rest[header_end + 4..], delimiter.as_bytes())?;
        let wanted = format!("name=\"{name}\"");
        if headers.contains(&wanted) && !headers.contains("filename=") {
            let value_start = part_start + header_end + 4;
            let value = &text[value_start..value_start + next];
            let len = value.strip_suffix(b"\r\n").unwrap_or(value).len();
            return Some(value_start..value_start + len);
        }
        start = part_start + header_end + 4 + next;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(path: &str) -> Ingress {
        pylon_shared::llm::recognise("POST", path, |_| None).unwrap()
    }

    fn chat(body: &str) -> RelayRequest {
        RelayRequest::parse(
            ingress("/v1/chat/completions"),
            Endpoint::ChatCompletions,
            Bytes::from(body.to_string()),
            None,
        )
        .unwrap()
    }

    #[test]
    fn reads_model_stream_and_limits() {
        let r = chat(r#"{"model":"gpt-x","stream":true,"max_tokens":5,"messages":[]}"#);
        assert_eq!(
            (r.model.as_str(), r.stream, r.max_tokens),
            ("gpt-x", true, Some(5))
        );
        assert!(r.injects_usage());
        let r = chat(r#"{"model":"gpt-x","stream":true,"stream_options":{"include_usage":true}}"#);
        assert!(!r.injects_usage());
    }

    #[test]
    fn keeps_the_session_fields_without_copying() {
        let r = chat(r#"{"model":"m","metadata":{"user_id":"u"},"prompt_cache_key":"k"}"#);
        assert_eq!(
            r.session_fields.get("metadata"),
            Some(Some(&br#"{"user_id":"u"}"#[..]))
        );
        assert_eq!(
            r.session_fields.get("prompt_cache_key"),
            Some(Some(&br#""k""#[..]))
        );
        assert_eq!(r.session_fields.get("user"), None);
        let r = chat(r#"{"model":"m"}"#);
        assert_eq!(r.session_fields.get("metadata"), Some(None));
    }

    #[test]
    fn refuses_bad_bodies() {
        for body in [
            r#"{"model":"#,
            r#"{"messages":[]}"#,
            r#"{"model":""}"#,
            r#"{"model":"m","stream":"yes"}"#,
            "[]",
        ] {
            assert!(
                RelayRequest::parse(
                    ingress("/v1/chat/completions"),
                    Endpoint::ChatCompletions,
                    Bytes::from(body),
                    None
                )
                .is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn rewrites_only_when_needed() {
        let r = chat(r#"{"model":"a","messages":[]}"#);
        let same = r.upstream_body("a", None).unwrap();
        assert_eq!(
            same.as_ptr(),
            r.body.as_ptr(),
            "unchanged body is not copied"
        );
        let mapped: serde_json::Value =
            serde_json::from_slice(&r.upstream_body("b", None).unwrap()).unwrap();
        assert_eq!(mapped["model"], "b");
        let r = chat(r#"{"model":"a","stream":true,"stream_options":{"foo":1}}"#);
        let injected: serde_json::Value =
            serde_json::from_slice(&r.upstream_body("a", None).unwrap()).unwrap();
        assert_eq!(injected["stream_options"]["include_usage"], true);
        assert_eq!(injected["stream_options"]["foo"], 1);
        let r = chat(r#"{"model":"a","max_tokens":9000}"#);
        let limited: serde_json::Value =
            serde_json::from_slice(&r.upstream_body("a", Some(21)).unwrap()).unwrap();
        assert_eq!(limited["max_tokens"], 21);
        let embed = RelayRequest::parse(
            ingress("/v1/embeddings"),
            Endpoint::Embeddings,
            Bytes::from(r#"{"model":"e","input":"x"}"#),
            None,
        )
        .unwrap();
        let same = embed.upstream_body("e", Some(21)).unwrap();
        assert_eq!(same.as_ptr(), embed.body.as_ptr(), "no limit to lower");
    }

    #[test]
    fn gemini_model_stream_and_limit_from_path_and_config() {
        let r = RelayRequest::parse(
            ingress("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
            Endpoint::Gemini,
            Bytes::from(r#"{"contents":[],"generationConfig":{"maxOutputTokens":7}}"#),
            None,
        )
        .unwrap();
        assert_eq!(
            (r.model.as_str(), r.stream, r.max_tokens),
            ("gemini-2.5-flash", true, Some(7))
        );
        let limited: serde_json::Value =
            serde_json::from_slice(&r.limited_body(Some(3)).unwrap()).unwrap();
        assert_eq!(limited["generationConfig"]["maxOutputTokens"], 3);
        assert_eq!(r.limited_body(None).unwrap().as_ptr(), r.body.as_ptr());
    }

    #[test]
    fn finds_the_model_in_multipart_forms() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF....\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--XyZ--\r\n";
        let r = RelayRequest::parse(
            ingress("/v1/audio/transcriptions"),
            Endpoint::AudioTranscriptions,
            Bytes::from(body),
            Some("multipart/form-data; boundary=XyZ".into()),
        )
        .unwrap();
        assert_eq!(r.model, "whisper-1");
    }
}
