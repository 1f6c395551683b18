//! The completion limit of a request, in the field its format uses: lowered to what the
//! reservation pays for when the balance is small, so the charge can never exceed the
//! reservation. One place per format: OpenAI chat `max_completion_tokens` (when the client used
//! it) or `max_tokens`, completions `max_tokens`, responses `max_output_tokens`, Anthropic
//! `max_tokens`, Gemini `generationConfig.maxOutputTokens`.

use pylon_shared::llm::ApiFormat;
use serde_json::{Map, Value};

/// The path of the field that carries `format`'s completion limit in `body`; `None` for formats
/// that generate no text.
fn limit_path(format: ApiFormat, body: &Map<String, Value>) -> Option<&'static [&'static str]> {
    Some(match format {
        ApiFormat::OpenAiChat if body.contains_key("max_completion_tokens") => {
            &["max_completion_tokens"]
        }
        ApiFormat::OpenAiChat | ApiFormat::OpenAiCompletions | ApiFormat::Anthropic => {
            &["max_tokens"]
        }
        ApiFormat::OpenAiResponses => &["max_output_tokens"],
        ApiFormat::Gemini => &["generationConfig", "maxOutputTokens"],
        ApiFormat::OpenAiEmbeddings
        | ApiFormat::OpenAiImages
        | ApiFormat::OpenAiAudio
        | ApiFormat::OpenAiModerations => return None,
    })
}

/// Whether `format` has a completion limit to lower.
pub fn has_limit(format: ApiFormat) -> bool {
    limit_path(format, &Map::new()).is_some()
}

/// Sets `format`'s completion limit in `body` to `limit` unless the client's own is lower.
/// Returns whether the body changed.
pub fn lower_limit(format: ApiFormat, body: &mut Map<String, Value>, limit: i64) -> bool {
    let Some(path) = limit_path(format, body) else {
        return false;
    };
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut object = body;
    for key in parents {
        let entry = object
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else {
            return false;
        };
        object = inner;
    }
    let current = object.get(*last).and_then(Value::as_i64);
    if current.is_some_and(|c| c > 0 && c <= limit) {
        return false;
    }
    object.insert(last.to_string(), Value::from(limit.max(1)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lowered(format: ApiFormat, body: Value, limit: i64) -> Value {
        let Value::Object(mut map) = body else {
            panic!("object")
        };
        lower_limit(format, &mut map, limit);
        Value::Object(map)
    }

    #[test]
    fn each_format_gets_its_own_field() {
        let chat = lowered(ApiFormat::OpenAiChat, json!({"model": "m"}), 21);
        assert_eq!(chat["max_tokens"], 21);
        let chat = lowered(
            ApiFormat::OpenAiChat,
            json!({"max_completion_tokens": 5000}),
            21,
        );
        assert_eq!(chat, json!({"max_completion_tokens": 21}));
        let responses = lowered(ApiFormat::OpenAiResponses, json!({}), 30);
        assert_eq!(responses["max_output_tokens"], 30);
        let anthropic = lowered(ApiFormat::Anthropic, json!({"max_tokens": 4096}), 30);
        assert_eq!(anthropic["max_tokens"], 30);
        let gemini = lowered(
            ApiFormat::Gemini,
            json!({"generationConfig": {"temperature": 0.5}}),
            40,
        );
        assert_eq!(
            gemini["generationConfig"],
            json!({"temperature": 0.5, "maxOutputTokens": 40})
        );
        assert!(!has_limit(ApiFormat::OpenAiEmbeddings));
    }

    #[test]
    fn a_lower_client_limit_is_kept() {
        let mut body = Map::new();
        body.insert("max_tokens".into(), json!(10));
        assert!(!lower_limit(ApiFormat::OpenAiChat, &mut body, 21));
        assert_eq!(body["max_tokens"], 10);
    }
}
