//! The JSON side of usage: the providers' usage objects as typed shapes (only the fields that
//! are billed; everything else is skipped unparsed), cheap byte-level probes that decide
//! whether an event is worth parsing at all, and [`usage_from_json`] for complete bodies.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::BodyFormat;
use crate::pricing::Usage;

/// A token count as providers write it: an integer (or, from sloppy upstreams, a float or
/// null); huge ones saturate. Negative values are kept as reported: the relay checks every
/// count before pricing it and bills its own estimate for one out of range.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count(pub(super) i64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = Option::<serde_json::Number>::deserialize(deserializer)?;
        let value = match number {
            None => 0,
            Some(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(v), _, _) => v,
                (None, Some(_), _) => i64::MAX,
                // `as` saturates and maps NaN to 0.
                (None, None, Some(f)) => f.round() as i64,
                (None, None, None) => 0,
            },
        };
        Ok(Count(value))
    }
}

/// Parses one JSON object. serde's derived structs also accept an array (fields by
/// position), which would read `[[]]` as a report of zero tokens: only objects are read.
pub(super) fn parse_object<'a, T: Deserialize<'a>>(data: &'a [u8]) -> Option<T> {
    if skip_ws(data).first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(data).ok()
}

/// An optional usage object: absent or `null` is `None`; anything but an object (an array
/// would otherwise be read as zero tokens) refuses the whole event.
fn optional_object<'de, D, U>(deserializer: D) -> Result<Option<U>, D::Error>
where
    D: Deserializer<'de>,
    U: Deserialize<'de>,
{
    struct Object<U>(PhantomData<U>);
    impl<'de, U: Deserialize<'de>> Visitor<'de> for Object<U> {
        type Value = U;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a usage object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<U, A::Error> {
            U::deserialize(MapAccessDeserializer::new(map))
        }
    }
    struct Only<U>(U);
    impl<'de, U: Deserialize<'de>> Deserialize<'de> for Only<U> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(Object(PhantomData)).map(Only)
        }
    }
    Ok(Option::<Only<U>>::deserialize(deserializer)?.map(|Only(usage)| usage))
}

/// `{"usage": ...}` at the top level of an object.
#[derive(Deserialize)]
#[serde(bound = "U: Deserialize<'de>")]
pub(super) struct WithUsage<U> {
    #[serde(default = "none", deserialize_with = "optional_object")]
    pub(super) usage: Option<U>,
}

fn none<U>() -> Option<U> {
    None
}

/// OpenAI chat/completions/embeddings `usage`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct OpenAiUsage {
    prompt_tokens: Count,
    completion_tokens: Count,
    total_tokens: Count,
    prompt_tokens_details: Option<CachedDetails>,
    /// DeepSeek's name for cached prompt tokens.
    prompt_cache_hit_tokens: Count,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CachedDetails {
    cached_tokens: Count,
    /// Cache writes, as new-api writes Anthropic's in OpenAI shapes.
    cached_creation_tokens: Count,
}

impl OpenAiUsage {
    pub(super) fn usage(&self) -> Usage {
        let details = self
            .prompt_tokens_details
            .as_ref()
            .map_or(0, |d| d.cached_tokens.0);
        Usage {
            prompt_tokens: self.prompt_tokens.0,
            completion_tokens: self.completion_tokens.0,
            cached_tokens: if details > 0 {
                details
            } else {
                self.prompt_cache_hit_tokens.0
            },
            cache_creation_tokens: self
                .prompt_tokens_details
                .as_ref()
                .map_or(0, |d| d.cached_creation_tokens.0),
            image_output_tokens: 0,
        }
    }

    /// Embeddings report `prompt_tokens` and `total_tokens` only.
    fn embedding_usage(&self) -> Usage {
        let prompt = if self.prompt_tokens.0 > 0 {
            self.prompt_tokens.0
        } else {
            self.total_tokens.0
        };
        Usage {
            prompt_tokens: prompt,
            completion_tokens: self.total_tokens.0.saturating_sub(prompt).max(0),
            cached_tokens: 0,
            cache_creation_tokens: 0,
            image_output_tokens: 0,
        }
    }
}

/// An OpenAI streaming chunk, as far as the usage-only chunk is concerned.
#[derive(Deserialize)]
pub(super) struct OpenAiChunk {
    #[serde(default)]
    pub(super) choices: Option<Vec<IgnoredAny>>,
    #[serde(default, deserialize_with = "optional_object")]
    pub(super) usage: Option<OpenAiUsage>,
}

/// OpenAI Responses `usage`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ResponsesUsage {
    input_tokens: Count,
    output_tokens: Count,
    input_tokens_details: Option<CachedDetails>,
}

impl ResponsesUsage {
    pub(super) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.input_tokens.0,
            completion_tokens: self.output_tokens.0,
            cached_tokens: self
                .input_tokens_details
                .as_ref()
                .map_or(0, |d| d.cached_tokens.0),
            cache_creation_tokens: self
                .input_tokens_details
                .as_ref()
                .map_or(0, |d| d.cached_creation_tokens.0),
            image_output_tokens: 0,
        }
    }
}

/// A Responses stream event that carries the final response.
#[derive(Deserialize)]
pub(super) struct ResponsesEvent {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) response: Option<WithUsage<ResponsesUsage>>,
}

/// Anthropic `usage`; every field optional because `message_delta` repeats only some.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(default)]
pub(super) struct AnthropicUsage {
    pub(super) input_tokens: Option<Count>,
    pub(super) output_tokens: Option<Count>,
    pub(super) cache_creation_input_tokens: Option<Count>,
    pub(super) cache_read_input_tokens: Option<Count>,
}

impl AnthropicUsage {
    /// Anthropic counts cache reads and writes apart from `input_tokens`; Pylon's prompt count
    /// includes both, each also counted on its own.
    pub(super) fn usage(&self) -> Usage {
        let get = |c: Option<Count>| c.map_or(0, |c| c.0);
        let cached = get(self.cache_read_input_tokens);
        let created = get(self.cache_creation_input_tokens);
        Usage {
            prompt_tokens: get(self.input_tokens)
                .saturating_add(cached)
                .saturating_add(created),
            completion_tokens: get(self.output_tokens),
            cached_tokens: cached,
            cache_creation_tokens: created,
            image_output_tokens: 0,
        }
    }

    /// Takes every count `newer` states (later events win).
    pub(super) fn merge(&mut self, newer: &AnthropicUsage) {
        let fields = [
            (&mut self.input_tokens, newer.input_tokens),
            (&mut self.output_tokens, newer.output_tokens),
            (
                &mut self.cache_creation_input_tokens,
                newer.cache_creation_input_tokens,
            ),
            (
                &mut self.cache_read_input_tokens,
                newer.cache_read_input_tokens,
            ),
        ];
        for (mine, theirs) in fields {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

/// An Anthropic stream event: `message_start` nests the usage in `message`, `message_delta`
/// has it at the top.
#[derive(Deserialize)]
pub(super) struct AnthropicEvent {
    #[serde(rename = "type", default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) message: Option<WithUsage<AnthropicUsage>>,
    #[serde(default, deserialize_with = "optional_object")]
    pub(super) usage: Option<AnthropicUsage>,
}

/// Gemini `usageMetadata`.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct GeminiUsage {
    prompt_token_count: Count,
    candidates_token_count: Count,
    thoughts_token_count: Count,
    cached_content_token_count: Count,
    tool_use_prompt_token_count: Count,
    /// Output tokens per modality; image models bill their IMAGE part at the image ratio.
    candidates_tokens_details: serde_json::Value,
}

impl GeminiUsage {
    /// Thinking is billed as output; tool-use prompts (search results fed back) as input.
    pub(super) fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self
                .prompt_token_count
                .0
                .saturating_add(self.tool_use_prompt_token_count.0),
            completion_tokens: self
                .candidates_token_count
                .0
                .saturating_add(self.thoughts_token_count.0),
            cached_tokens: self.cached_content_token_count.0,
            cache_creation_tokens: 0,
            image_output_tokens: crate::llm::usage::image_tokens(&self.candidates_tokens_details),
        }
    }
}

/// A Gemini response object (one per stream chunk).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GeminiChunk {
    #[serde(default, deserialize_with = "optional_object")]
    pub(super) usage_metadata: Option<GeminiUsage>,
}

/// The usage in a complete (non-streaming) JSON response body; `None` when the body has none
/// or is not JSON.
pub fn usage_from_json(format: BodyFormat, body: &[u8]) -> Option<Usage> {
    match format {
        BodyFormat::OpenAiChat | BodyFormat::OpenAiCompletions => {
            let parsed: WithUsage<OpenAiUsage> = parse_object(body)?;
            parsed.usage.map(|u| u.usage())
        }
        BodyFormat::OpenAiEmbeddings => {
            let parsed: WithUsage<OpenAiUsage> = parse_object(body)?;
            parsed.usage.map(|u| u.embedding_usage())
        }
        BodyFormat::OpenAiResponses => {
            let parsed: WithUsage<ResponsesUsage> = parse_object(body)?;
            parsed.usage.map(|u| u.usage())
        }
        BodyFormat::Anthropic => {
            let parsed: WithUsage<AnthropicUsage> = parse_object(body)?;
            parsed.usage.map(|u| u.usage())
        }
        BodyFormat::Gemini => {
            let parsed: GeminiChunk = parse_object(body)?;
            parsed.usage_metadata.map(|u| u.usage())
        }
    }
}

/// Where `needle` first occurs in `haystack`.
/// Events are short: a scan for the first byte beats building a substring searcher per call.
pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, haystack)
        .find(|&at| haystack.get(at + 1..at + needle.len()) == Some(rest))
}

/// Whether `needle` occurs in `haystack`.
pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The bytes after the first `quoted_key` (e.g. `"type"`) used as an object key: past the
/// colon and any whitespace. A quoted key cannot occur inside a JSON string unescaped, so the
/// first occurrence is a real key.
fn value_after_key<'a>(data: &'a [u8], quoted_key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    loop {
        let at = from + find(data.get(from..)?, quoted_key)?;
        let rest = skip_ws(data.get(at + quoted_key.len()..)?);
        if let Some(value) = rest.strip_prefix(b":") {
            return Some(skip_ws(value));
        }
        from = at + 1;
    }
}

/// Whether `data` may report usage: its first `"usage"` key has a value that is not `null`, or
/// `"usage"` occurs more than once (a nested key or a quoted value may come first: the parser
/// decides). Every chunk of an OpenAI stream that asked for usage
/// says `"usage":null` but the last: this cheap probe keeps them from the parser.
pub(super) fn may_report_usage(data: &[u8]) -> bool {
    const KEY: &[u8] = br#""usage""#;
    let Some(first) = find(data, KEY) else {
        return false;
    };
    let Some(value) = value_after_key(data, KEY) else {
        return true;
    };
    if !value.starts_with(b"null") {
        return true;
    }
    // Another mention after the null one (a nested key first?) is left to the parser.
    find(data.get(first + KEY.len()..).unwrap_or_default(), KEY).is_some()
}

/// The raw (unescaped-as-is) text of the first string value of `quoted_key`.
pub(super) fn string_field<'a>(data: &'a [u8], quoted_key: &[u8]) -> Option<&'a [u8]> {
    let value = value_after_key(data, quoted_key)?.strip_prefix(b"\"")?;
    let mut escaped = false;
    for (i, &b) in value.iter().enumerate() {
        match (escaped, b) {
            (true, _) => escaped = false,
            (false, b'\\') => escaped = true,
            (false, b'"') => return value.get(..i),
            _ => {}
        }
    }
    None
}

/// Whether the first value of `quoted_key` is an array with at least one element.
pub(super) fn nonempty_array(data: &[u8], quoted_key: &[u8]) -> bool {
    value_after_key(data, quoted_key)
        .and_then(|value| value.strip_prefix(b"["))
        .is_some_and(|inner| !matches!(skip_ws(inner).first(), Some(b']') | None))
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(prompt: i64, completion: i64, cached: i64) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_tokens: cached,
            cache_creation_tokens: 0,
            image_output_tokens: 0,
        })
    }

    #[test]
    fn complete_bodies_of_every_format() {
        let chat = br#"{"id":"x","choices":[{"message":{"content":"hi \"usage\": 5"}}],
            "usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,
            "prompt_tokens_details":{"cached_tokens":4}}}"#;
        assert_eq!(usage_from_json(BodyFormat::OpenAiChat, chat), u(12, 7, 4));
        let completions =
            br#"{"choices":[{"text":"a"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiCompletions, completions),
            u(3, 1, 0)
        );
        let deepseek =
            br#"{"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_cache_hit_tokens":6}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiChat, deepseek),
            u(10, 2, 6)
        );
        let embeddings =
            br#"{"data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":8,"total_tokens":8}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiEmbeddings, embeddings),
            u(8, 0, 0)
        );
        let total_only = br#"{"usage":{"total_tokens":9}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiEmbeddings, total_only),
            u(9, 0, 0)
        );
        let responses = br#"{"output":[],"usage":{"input_tokens":30,"output_tokens":9,
            "input_tokens_details":{"cached_tokens":20},"total_tokens":39}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiResponses, responses),
            u(30, 9, 20)
        );
        let anthropic = br#"{"content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":5,
            "cache_creation_input_tokens":100,"cache_read_input_tokens":200,"output_tokens":11}}"#;
        let mut written = u(305, 11, 200).unwrap();
        written.cache_creation_tokens = 100;
        assert_eq!(
            usage_from_json(BodyFormat::Anthropic, anthropic),
            Some(written)
        );
        // new-api's OpenAI shape of Anthropic's cache writes.
        let relayed = br#"{"usage":{"prompt_tokens":305,"completion_tokens":11,
            "prompt_tokens_details":{"cached_tokens":200,"cached_creation_tokens":100}}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiChat, relayed),
            Some(written)
        );
        let gemini = br#"{"candidates":[],"usageMetadata":{"promptTokenCount":40,
            "candidatesTokenCount":10,"thoughtsTokenCount":5,"cachedContentTokenCount":32,
            "totalTokenCount":55}}"#;
        assert_eq!(usage_from_json(BodyFormat::Gemini, gemini), u(40, 15, 32));
        // An image model lists its output per modality; the IMAGE part is kept apart.
        let image = br#"{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":1296,
            "candidatesTokensDetails":[{"modality":"TEXT","tokenCount":6},
            {"modality":"IMAGE","tokenCount":1290}]}}"#;
        let read = usage_from_json(BodyFormat::Gemini, image).expect("usage");
        assert_eq!(
            (read.completion_tokens, read.image_output_tokens),
            (1296, 1290)
        );
        // Details of another shape are ignored, never a lost report.
        let odd = br#"{"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3,
            "candidatesTokensDetails":{"IMAGE":5}}}"#;
        assert_eq!(usage_from_json(BodyFormat::Gemini, odd), u(7, 3, 0));
    }

    #[test]
    fn missing_null_or_broken_usage_is_none() {
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiChat, br#"{"choices":[]}"#),
            None
        );
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiChat, br#"{"usage":null}"#),
            None
        );
        assert_eq!(usage_from_json(BodyFormat::Anthropic, b"not json"), None);
        assert_eq!(usage_from_json(BodyFormat::Gemini, b""), None);
        assert_eq!(
            usage_from_json(
                BodyFormat::OpenAiChat,
                br#"{"usage":{"prompt_tokens":"3"}}"#
            ),
            None
        );
        // Sloppy numbers are tolerated: floats round, null is 0; negatives are kept for the
        // relay's range check to refuse.
        let sloppy =
            br#"{"usage":{"prompt_tokens":3.6,"completion_tokens":-2,"total_tokens":null}}"#;
        assert_eq!(usage_from_json(BodyFormat::OpenAiChat, sloppy), u(4, -2, 0));
        let huge = br#"{"usage":{"prompt_tokens":99999999999999999999999}}"#;
        assert_eq!(
            usage_from_json(BodyFormat::OpenAiChat, huge),
            u(i64::MAX, 0, 0)
        );
    }

    #[test]
    fn byte_probes() {
        let data = br#"{"id":"a","type" : "message_delta","choices": [ {"x":1}],"e":[ ]}"#;
        assert_eq!(
            string_field(data, br#""type""#),
            Some(&b"message_delta"[..])
        );
        assert_eq!(
            string_field(br#"{"type":"a\"b"}"#, br#""type""#),
            Some(&br#"a\"b"#[..])
        );
        assert_eq!(
            string_field(br#"{"x":"type","type":"t"}"#, br#""type""#),
            Some(&b"t"[..])
        );
        assert!(nonempty_array(data, br#""choices""#));
        assert!(!nonempty_array(data, br#""e""#));
        assert!(!nonempty_array(br#"{"choices":[]}"#, br#""choices""#));
        assert!(!nonempty_array(br#"{"choices":null}"#, br#""choices""#));
        assert!(!nonempty_array(br#"{"choices":["#, br#""choices""#));
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
        assert!(!contains(b"", b"x"));
    }

    #[test]
    fn only_chunks_whose_usage_is_not_null_are_worth_parsing() {
        assert!(!may_report_usage(br#"{"choices":[{"delta":{}}]}"#));
        assert!(!may_report_usage(
            br#"{"choices":[{"delta":{}}],"usage":null}"#
        ));
        assert!(!may_report_usage(br#"{"choices":[],"usage" : null }"#));
        assert!(may_report_usage(
            br#"{"choices":[],"usage":{"prompt_tokens":1}}"#
        ));
        // A content string that quotes the key does not count as the key.
        assert!(!may_report_usage(
            br#"{"choices":[{"delta":{"content":"\"usage\": 5"}}],"usage":null}"#
        ));
        // A null mention before another one: the parser decides.
        assert!(may_report_usage(
            br#"{"x":{"usage":null},"usage":{"prompt_tokens":1}}"#
        ));
        // A quoted value "usage", then a null key: two mentions, so the parser decides (the
        // probe stays cheap rather than exact).
        assert!(may_report_usage(br#"{"kind":"usage","usage":null}"#));
        assert!(may_report_usage(br#"{"usage":"#));
    }
}
