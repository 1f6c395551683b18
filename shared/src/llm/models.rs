//! Model lists and single-model descriptions in each family's shape:
//! OpenAI `{"object":"list","data":[{"id","object":"model","created","owned_by"}]}`,
//! Anthropic `{"data":[{"type":"model","id","display_name","created_at"}],"has_more","first_id",
//! "last_id"}`, Gemini `{"models":[{"name":"models/x","displayName",...}]}`.

use serde_json::{Value, json};

use super::format::Family;

/// The operator's name in OpenAI's `owned_by`.
const OWNER: &str = "pylon";

/// The JSON list of `models` for a client of `family`.
pub fn model_list(family: Family, models: &[&str]) -> Value {
    match family {
        Family::OpenAi => json!({
            "object": "list",
            "data": models.iter().map(|m| model(family, m)).collect::<Vec<_>>(),
        }),
        Family::Anthropic => json!({
            "data": models.iter().map(|m| model(family, m)).collect::<Vec<_>>(),
            "has_more": false,
            "first_id": models.first(),
            "last_id": models.last(),
        }),
        Family::Gemini => json!({
            "models": models.iter().map(|m| model(family, m)).collect::<Vec<_>>(),
        }),
    }
}

/// One model's description for a client of `family`.
pub fn model(family: Family, id: &str) -> Value {
    match family {
        Family::OpenAi => json!({"id": id, "object": "model", "created": 0, "owned_by": OWNER}),
        Family::Anthropic => json!({
            "type": "model",
            "id": id,
            "display_name": id,
            "created_at": "1970-01-01T00:00:00Z",
        }),
        Family::Gemini => {
            let bare = id.strip_prefix("models/").unwrap_or(id);
            let methods: &[&str] = if bare.contains("embedding") {
                &["embedContent", "batchEmbedContents"]
            } else {
                &["generateContent", "streamGenerateContent", "countTokens"]
            };
            json!({
                "name": format!("models/{bare}"),
                "baseModelId": bare,
                "version": "001",
                "displayName": bare,
                "description": bare,
                "supportedGenerationMethods": methods,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_shapes() {
        let models = ["claude-sonnet-4-5", "gemini-2.5-flash"];
        let openai = model_list(Family::OpenAi, &models);
        assert_eq!(openai["object"], "list");
        assert_eq!(openai["data"][1]["id"], "gemini-2.5-flash");
        assert_eq!(openai["data"][0]["object"], "model");

        let anthropic = model_list(Family::Anthropic, &models);
        assert_eq!(anthropic["data"][0]["type"], "model");
        assert_eq!(anthropic["has_more"], false);
        assert_eq!(anthropic["first_id"], "claude-sonnet-4-5");
        assert_eq!(anthropic["last_id"], "gemini-2.5-flash");
        let empty = model_list(Family::Anthropic, &[]);
        assert_eq!(empty["first_id"], Value::Null);

        let gemini = model_list(Family::Gemini, &["gemini-2.5-flash", "text-embedding-004"]);
        assert_eq!(gemini["models"][0]["name"], "models/gemini-2.5-flash");
        assert_eq!(
            gemini["models"][1]["supportedGenerationMethods"],
            json!(["embedContent", "batchEmbedContents"])
        );
        assert_eq!(model(Family::Gemini, "models/x")["name"], "models/x");
    }
}
