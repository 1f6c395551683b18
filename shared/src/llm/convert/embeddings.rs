//! Embeddings between OpenAI (`/v1/embeddings`) and Gemini (`:embedContent`,
//! `:batchEmbedContents`): requests and answers. Gemini reports no token usage for
//! embeddings; the answer's usage is then zero and the relay estimates.

use serde_json::{Value, json};

use super::{array_of, bad, str_of, string_of, u64_of};
use crate::llm::errors::ApiError;
use crate::llm::format::Op;
use crate::llm::usage::Usage;

fn texts_of_content(content: &Value) -> String {
    array_of(content, "parts")
        .iter()
        .filter_map(|p| str_of(p, "text"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An OpenAI embeddings request as a Gemini `batchEmbedContents` request for `model`.
pub fn openai_to_gemini(body: &Value, model: &str) -> Result<Value, ApiError> {
    let inputs: Vec<String> = match body.get("input") {
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        Some(Value::Array(_)) => {
            return Err(
                bad("token-id inputs cannot be sent to this model; send text").with_param("input"),
            );
        }
        _ => return Err(bad("`input` is required").with_param("input")),
    };
    let model = format!("models/{}", model.strip_prefix("models/").unwrap_or(model));
    let dimensions = u64_of(body, "dimensions");
    let requests: Vec<Value> = inputs
        .iter()
        .map(|text| {
            let mut request = json!({"model": model, "content": {"parts": [{"text": text}]}});
            if let Some(dimensions) = dimensions {
                request["outputDimensionality"] = json!(dimensions);
            }
            request
        })
        .collect();
    Ok(json!({"requests": requests}))
}

/// A Gemini `embedContent` or `batchEmbedContents` request as an OpenAI embeddings request.
pub fn gemini_to_openai(body: &Value, op: Op, model: &str) -> Result<Value, ApiError> {
    let (inputs, dimensions) = match op {
        Op::BatchEmbed => {
            let requests = array_of(body, "requests");
            let inputs: Vec<String> = requests
                .iter()
                .map(|r| texts_of_content(&r["content"]))
                .collect();
            (
                inputs,
                requests
                    .first()
                    .and_then(|r| u64_of(r, "outputDimensionality")),
            )
        }
        _ => (
            vec![texts_of_content(&body["content"])],
            u64_of(body, "outputDimensionality"),
        ),
    };
    if inputs.is_empty() || inputs.iter().all(String::is_empty) {
        return Err(bad("content.parts must hold text to embed"));
    }
    let mut out = json!({"model": model, "input": inputs, "encoding_format": "float"});
    if let Some(dimensions) = dimensions {
        out["dimensions"] = json!(dimensions);
    }
    Ok(out)
}

/// A Gemini embeddings answer as OpenAI's (usage zero: Gemini reports none).
pub fn answer_gemini_to_openai(body: &Value, model: &str) -> (Value, Usage) {
    let vectors: Vec<Value> = match body.get("embedding") {
        Some(single) => vec![single["values"].clone()],
        None => array_of(body, "embeddings")
            .iter()
            .map(|e| e["values"].clone())
            .collect(),
    };
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
        .collect();
    let usage = Usage::default();
    let answer = json!({"object": "list", "data": data, "model": model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0}});
    (answer, usage)
}

/// An OpenAI embeddings answer as Gemini's, for the client's operation.
pub fn answer_openai_to_gemini(body: &Value, op: Op) -> (Value, Usage) {
    let usage = body
        .get("usage")
        .map(Usage::from_openai)
        .unwrap_or_default();
    let mut data: Vec<&Value> = array_of(body, "data").iter().collect();
    data.sort_by_key(|d| d.get("index").and_then(Value::as_u64).unwrap_or(0));
    let vectors: Vec<Value> = data
        .iter()
        .map(|d| json!({"values": d["embedding"]}))
        .collect();
    let answer = match op {
        Op::BatchEmbed => json!({"embeddings": vectors}),
        _ => {
            json!({"embedding": vectors.into_iter().next().unwrap_or_else(|| json!({"values": []}))})
        }
    };
    (answer, usage)
}

/// The model named in a Gemini batch request's first entry (`models/x` → `x`).
pub fn gemini_batch_model(body: &Value) -> Option<String> {
    let first = array_of(body, "requests").first()?;
    let model = string_of(first, "model");
    Some(model.strip_prefix("models/").unwrap_or(&model).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_request_to_gemini_batch_and_back() {
        let body = json!({"model": "text-embedding-3-small", "input": ["hello", "world"], "dimensions": 256});
        let gemini = openai_to_gemini(&body, "gemini-embedding-001").unwrap();
        assert_eq!(
            gemini["requests"][1],
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "world"}]}, "outputDimensionality": 256})
        );
        assert_eq!(
            gemini_batch_model(&gemini).as_deref(),
            Some("gemini-embedding-001")
        );
        let back = gemini_to_openai(&gemini, Op::BatchEmbed, "text-embedding-3-small").unwrap();
        assert_eq!(back["input"], json!(["hello", "world"]));
        assert_eq!(back["dimensions"], 256);
        assert!(openai_to_gemini(&json!({"input": [[1, 2, 3]]}), "m").is_err());
        assert!(openai_to_gemini(&json!({}), "m").is_err());
        let single = gemini_to_openai(
            &json!({"content": {"parts": [{"text": "a"}, {"text": "b"}]}}),
            Op::Embed,
            "e",
        )
        .unwrap();
        assert_eq!(single["input"], json!(["a\nb"]));
        assert!(gemini_to_openai(&json!({"content": {"parts": []}}), Op::Embed, "e").is_err());
    }

    #[test]
    fn answers_both_ways() {
        let gemini = json!({"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]});
        let (openai, usage) = answer_gemini_to_openai(&gemini, "text-embedding-3-small");
        assert_eq!(
            openai["data"][1],
            json!({"object": "embedding", "index": 1, "embedding": [0.3, 0.4]})
        );
        assert_eq!(usage, Usage::default());
        let single = json!({"embedding": {"values": [0.5]}});
        assert_eq!(
            answer_gemini_to_openai(&single, "m").0["data"][0]["embedding"],
            json!([0.5])
        );

        let openai = json!({"object": "list", "data": [
            {"object": "embedding", "index": 1, "embedding": [0.3]},
            {"object": "embedding", "index": 0, "embedding": [0.1]}],
            "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}});
        let (batch, usage) = answer_openai_to_gemini(&openai, Op::BatchEmbed);
        assert_eq!(
            batch,
            json!({"embeddings": [{"values": [0.1]}, {"values": [0.3]}]})
        );
        assert_eq!(usage.input_tokens, 8);
        let (single, _) = answer_openai_to_gemini(&openai, Op::Embed);
        assert_eq!(single, json!({"embedding": {"values": [0.1]}}));
    }
}
