//! Recognises a client request (method, path, query and a few headers) as an [`Ingress`]: the
//! API format it speaks, the operation, and what the path itself says about the model and
//! streaming (Gemini puts both in the path). Also finds the client's key wherever its format
//! puts it.

use super::format::{ApiFormat, Op};

/// What the path, query and headers of a request say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingress {
    /// The request's format (decides the answer and error shapes).
    pub format: ApiFormat,
    /// What the request asks for.
    pub op: Op,
    /// The model named in the path (Gemini `models/{model}:action`, `GET .../models/{model}`).
    pub model_from_path: Option<String>,
    /// The path asks for a streamed answer (Gemini `:streamGenerateContent`).
    pub stream_from_path: bool,
    /// A Gemini stream is framed as server-sent events (`alt=sse`) rather than one JSON array.
    pub sse: bool,
}

impl Ingress {
    fn new(format: ApiFormat, op: Op) -> Self {
        Ingress {
            format,
            op,
            model_from_path: None,
            stream_from_path: false,
            sse: format != ApiFormat::Gemini,
        }
    }
}

/// Header names that mark an Anthropic client on paths shared with OpenAI (`/v1/models`).
const ANTHROPIC_MARKERS: [&str; 2] = ["anthropic-version", "x-api-key"];

/// Recognises a request; `header` looks a header up by lower-case name. `None` when the path is
/// not a relay endpoint (or not for this method).
pub fn recognise<'h>(
    method: &str,
    path_and_query: &str,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Option<Ingress> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, query),
        None => (path_and_query, ""),
    };
    let path = path.trim_end_matches('/');
    let get = method.eq_ignore_ascii_case("GET");
    let post = method.eq_ignore_ascii_case("POST");
    if let Some(rest) = path
        .strip_prefix("/v1beta/models")
        .or_else(|| path.strip_prefix("/v1/models").filter(|r| r.contains(':')))
    {
        return gemini(rest, query, get, post);
    }
    let anthropic_client = ANTHROPIC_MARKERS.iter().any(|h| header(h).is_some());
    if get {
        let format = if anthropic_client {
            ApiFormat::Anthropic
        } else {
            ApiFormat::OpenAiChat
        };
        if path == "/v1/models" {
            return Some(Ingress::new(format, Op::ListModels));
        }
        let model = path.strip_prefix("/v1/models/")?;
        return Some(Ingress {
            model_from_path: Some(decode(model)),
            ..Ingress::new(format, Op::GetModel)
        });
    }
    if !post {
        return None;
    }
    let (format, op) = match path {
        "/v1/chat/completions" => (ApiFormat::OpenAiChat, Op::Generate),
        "/v1/completions" => (ApiFormat::OpenAiCompletions, Op::Generate),
        "/v1/responses" => (ApiFormat::OpenAiResponses, Op::Generate),
        "/v1/embeddings" => (ApiFormat::OpenAiEmbeddings, Op::Embed),
        "/v1/moderations" => (ApiFormat::OpenAiModerations, Op::Relay),
        "/v1/messages" => (ApiFormat::Anthropic, Op::Generate),
        "/v1/messages/count_tokens" => (ApiFormat::Anthropic, Op::CountTokens),
        _ if path.starts_with("/v1/images/") => (ApiFormat::OpenAiImages, Op::Relay),
        _ if path.starts_with("/v1/audio/") => (ApiFormat::OpenAiAudio, Op::Relay),
        _ => return None,
    };
    Some(Ingress::new(format, op))
}

/// `/v1beta/models[...]` (or `/v1/models/{m}:{action}`): `rest` is what follows `/models`.
fn gemini(rest: &str, query: &str, get: bool, post: bool) -> Option<Ingress> {
    if rest.is_empty() {
        return get.then(|| Ingress::new(ApiFormat::Gemini, Op::ListModels));
    }
    let name = rest.strip_prefix('/')?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let Some((model, action)) = name.split_once(':') else {
        return get.then(|| Ingress {
            model_from_path: Some(decode(name)),
            ..Ingress::new(ApiFormat::Gemini, Op::GetModel)
        });
    };
    if !post || model.is_empty() {
        return None;
    }
    let (op, stream) = match action {
        "generateContent" => (Op::Generate, false),
        "streamGenerateContent" => (Op::Generate, true),
        "countTokens" => (Op::CountTokens, false),
        "embedContent" => (Op::Embed, false),
        "batchEmbedContents" => (Op::BatchEmbed, false),
        _ => return None,
    };
    Some(Ingress {
        format: ApiFormat::Gemini,
        op,
        model_from_path: Some(decode(model)),
        stream_from_path: stream,
        sse: stream && query_value(query, "alt").is_some_and(|alt| alt == "sse"),
    })
}

/// The client's API key: `Authorization: Bearer`, Anthropic's `x-api-key`, Gemini's
/// `x-goog-api-key` or `?key=`, in that order.
pub fn client_key<'h>(
    path_and_query: &'h str,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Option<String> {
    if let Some(bearer) = header("authorization").and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }) && !bearer.is_empty()
    {
        return Some(bearer.to_owned());
    }
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(value) = header(name).map(str::trim).filter(|v| !v.is_empty()) {
            return Some(value.to_owned());
        }
    }
    let query = path_and_query.split_once('?')?.1;
    query_value(query, "key").filter(|k| !k.is_empty())
}

/// The first value of `name` in a query string, percent-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| decode(value))
    })
}

/// Percent-decodes a path segment or query value (`+` stays as is in paths; in the values
/// Pylon reads, a model or a key, it never occurs meaningfully). Invalid escapes are kept.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    fn post(path: &str) -> Option<Ingress> {
        recognise("POST", path, none)
    }

    #[test]
    fn openai_paths() {
        let chat = post("/v1/chat/completions").unwrap();
        assert_eq!(
            (chat.format, chat.op),
            (ApiFormat::OpenAiChat, Op::Generate)
        );
        assert!(chat.sse && !chat.stream_from_path && chat.model_from_path.is_none());
        assert_eq!(
            post("/v1/responses/").unwrap().format,
            ApiFormat::OpenAiResponses
        );
        assert_eq!(
            post("/v1/completions").unwrap().format,
            ApiFormat::OpenAiCompletions
        );
        assert_eq!(post("/v1/embeddings").unwrap().op, Op::Embed);
        assert_eq!(post("/v1/images/generations").unwrap().op, Op::Relay);
        assert_eq!(
            post("/v1/audio/speech").unwrap().format,
            ApiFormat::OpenAiAudio
        );
        assert_eq!(post("/v1/unknown"), None);
        assert_eq!(recognise("DELETE", "/v1/chat/completions", none), None);
    }

    #[test]
    fn anthropic_paths() {
        let messages = post("/v1/messages?beta=true").unwrap();
        assert_eq!(
            (messages.format, messages.op),
            (ApiFormat::Anthropic, Op::Generate)
        );
        let count = post("/v1/messages/count_tokens").unwrap();
        assert_eq!(count.op, Op::CountTokens);
    }

    #[test]
    fn gemini_actions_with_and_without_alt_sse() {
        let plain = post("/v1beta/models/gemini-2.5-flash:generateContent").unwrap();
        assert_eq!(plain.format, ApiFormat::Gemini);
        assert_eq!(plain.op, Op::Generate);
        assert_eq!(plain.model_from_path.as_deref(), Some("gemini-2.5-flash"));
        assert!(!plain.stream_from_path);

        let array = post("/v1beta/models/gemini-2.5-pro:streamGenerateContent?key=k").unwrap();
        assert!(array.stream_from_path && !array.sse);
        let sse =
            post("/v1beta/models/gemini-2.5-pro:streamGenerateContent?key=k&alt=sse").unwrap();
        assert!(sse.stream_from_path && sse.sse);

        let v1 = post("/v1/models/gemini-2.0-flash:countTokens").unwrap();
        assert_eq!((v1.format, v1.op), (ApiFormat::Gemini, Op::CountTokens));
        assert_eq!(
            post("/v1beta/models/text-embedding-004:embedContent")
                .unwrap()
                .op,
            Op::Embed
        );
        assert_eq!(
            post("/v1beta/models/text-embedding-004:batchEmbedContents")
                .unwrap()
                .op,
            Op::BatchEmbed
        );
        assert_eq!(post("/v1beta/models/x:explode"), None);
        assert_eq!(post("/v1beta/models/:generateContent"), None);
        assert_eq!(
            recognise("GET", "/v1beta/models/x:generateContent", none),
            None
        );
        // A tuned model name with an escaped character.
        let escaped = post("/v1beta/models/my%2Dmodel:generateContent").unwrap();
        assert_eq!(escaped.model_from_path.as_deref(), Some("my-model"));
    }

    #[test]
    fn model_lists_by_family() {
        let openai = recognise("GET", "/v1/models", none).unwrap();
        assert_eq!(
            (openai.format, openai.op),
            (ApiFormat::OpenAiChat, Op::ListModels)
        );
        let anthropic = recognise("GET", "/v1/models?limit=20", |h| {
            (h == "anthropic-version").then_some("2023-06-01")
        })
        .unwrap();
        assert_eq!(anthropic.format, ApiFormat::Anthropic);
        let one = recognise("GET", "/v1/models/gpt-4o", none).unwrap();
        assert_eq!(one.op, Op::GetModel);
        assert_eq!(one.model_from_path.as_deref(), Some("gpt-4o"));
        let gemini = recognise("GET", "/v1beta/models?pageSize=50", none).unwrap();
        assert_eq!(
            (gemini.format, gemini.op),
            (ApiFormat::Gemini, Op::ListModels)
        );
        let gemini_one = recognise("GET", "/v1beta/models/gemini-2.5-flash", none).unwrap();
        assert_eq!(gemini_one.op, Op::GetModel);
        assert_eq!(
            gemini_one.model_from_path.as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(recognise("POST", "/v1beta/models", none), None);
    }

    #[test]
    fn keys_wherever_the_format_puts_them() {
        let bearer = |h: &str| (h == "authorization").then_some("Bearer sk-abc");
        assert_eq!(
            client_key("/v1/chat/completions", bearer).as_deref(),
            Some("sk-abc")
        );
        let anthropic = |h: &str| (h == "x-api-key").then_some("sk-ant");
        assert_eq!(
            client_key("/v1/messages", anthropic).as_deref(),
            Some("sk-ant")
        );
        let goog = |h: &str| (h == "x-goog-api-key").then_some("sk-g");
        assert_eq!(client_key("/v1beta/models", goog).as_deref(), Some("sk-g"));
        assert_eq!(
            client_key(
                "/v1beta/models/m:generateContent?alt=sse&key=sk-q%2B1",
                none
            )
            .as_deref(),
            Some("sk-q+1")
        );
        assert_eq!(client_key("/v1/models", none), None);
        let basic = |h: &str| (h == "authorization").then_some("Basic abc");
        assert_eq!(client_key("/v1/models?key=", basic), None);
    }
}
