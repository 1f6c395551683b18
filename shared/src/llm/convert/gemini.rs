//! Gemini `generateContent` to and from the IR: contents and parts (text, thoughts, inline
//! data, file data, function calls and responses), system instruction, function declarations
//! (schemas narrowed to the OpenAPI subset Gemini accepts), tool config, generation config
//! (JSON mode, schemas, thinking) and finish reasons. Function calls have no ids in Gemini:
//! they get `call_<n>` in the IR and results are matched back by name.

use serde_json::{Map, Value, json};

use super::{arguments_object, arguments_text, array_of, f64_of, str_of, string_of, u64_of};
use crate::llm::errors::ApiError;
use crate::llm::ir::{
    Effort, FinishReason, Media, Message, Part, Reasoning, Request, Response, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, generated_call_id,
};
use crate::llm::usage::Usage;

/// Reads a `generateContent` request (the model comes from the path).
pub fn request_to_ir(body: &Value) -> Result<Request, ApiError> {
    let mut request = Request::default();
    let system = body
        .get("systemInstruction")
        .or_else(|| body.get("system_instruction"));
    if let Some(system) = system {
        request.system = array_of(system, "parts")
            .iter()
            .filter_map(|p| str_of(p, "text").map(|t| Part::Text(t.to_owned())))
            .collect();
    }
    // Calls not yet answered, oldest first: (id, name).
    let mut open_calls: Vec<(String, String)> = Vec::new();
    let mut next_id = 0;
    for content in array_of(body, "contents") {
        let role = match str_of(content, "role") {
            Some("model") => Role::Assistant,
            _ => Role::User,
        };
        let mut parts = Vec::new();
        for part in array_of(content, "parts") {
            if let Some(part) = read_part(part, &mut open_calls, &mut next_id) {
                parts.push(part);
            }
        }
        match request.messages.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => request.messages.push(Message { role, parts }),
        }
    }
    for tool in array_of(body, "tools") {
        let declarations = tool
            .get("functionDeclarations")
            .or_else(|| tool.get("function_declarations"))
            .and_then(Value::as_array);
        for declaration in declarations.into_iter().flatten() {
            request.tools.push(Tool {
                name: string_of(declaration, "name"),
                description: str_of(declaration, "description").map(str::to_owned),
                parameters: declaration
                    .get("parametersJsonSchema")
                    .or_else(|| declaration.get("parameters"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            });
        }
    }
    if let Some(config) = body.pointer("/toolConfig/functionCallingConfig") {
        let allowed = array_of(config, "allowedFunctionNames");
        request.tool_choice = match str_of(config, "mode") {
            Some("NONE") => Some(ToolChoice::None),
            Some("ANY") if allowed.len() == 1 => allowed[0]
                .as_str()
                .map(|name| ToolChoice::Named(name.to_owned())),
            Some("ANY") => Some(ToolChoice::Required),
            Some("AUTO") | Some("VALIDATED") => Some(ToolChoice::Auto),
            _ => None,
        };
    }
    let config = body.get("generationConfig").unwrap_or(&Value::Null);
    request.temperature = f64_of(config, "temperature");
    request.top_p = f64_of(config, "topP");
    request.top_k = u64_of(config, "topK");
    request.max_tokens = u64_of(config, "maxOutputTokens");
    request.stop = array_of(config, "stopSequences")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    if str_of(config, "responseMimeType") == Some("application/json") {
        let schema = config
            .get("responseJsonSchema")
            .or_else(|| config.get("responseSchema"));
        request.response_format = Some(match schema {
            Some(schema) => ResponseFormat::JsonSchema {
                name: "response".to_owned(),
                schema: schema.clone(),
                strict: None,
            },
            None => ResponseFormat::JsonObject,
        });
    }
    if let Some(thinking) = config.get("thinkingConfig") {
        let budget = thinking.get("thinkingBudget").and_then(Value::as_i64);
        let effort =
            str_of(thinking, "thinkingLevel").and_then(|l| Effort::parse(&l.to_ascii_lowercase()));
        request.reasoning = Some(Reasoning {
            enabled: budget != Some(0),
            effort,
            // -1 is "dynamic": no budget of its own.
            budget_tokens: budget
                .and_then(|b| u64::try_from(b).ok())
                .filter(|b| *b > 0),
        });
    }
    Ok(request)
}

fn read_part(
    part: &Value,
    open_calls: &mut Vec<(String, String)>,
    next_id: &mut usize,
) -> Option<Part> {
    if let Some(text) = str_of(part, "text") {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            return Some(Part::Reasoning {
                text: text.to_owned(),
                signature: str_of(part, "thoughtSignature").map(str::to_owned),
            });
        }
        return Some(Part::Text(text.to_owned()));
    }
    if let Some(data) = part.get("inlineData").or_else(|| part.get("inline_data")) {
        let media_type = str_of(data, "mimeType")
            .or_else(|| str_of(data, "mime_type"))
            .unwrap_or_default();
        let media = Media::Base64 {
            media_type: media_type.to_owned(),
            data: string_of(data, "data"),
        };
        return Some(media_part(media_type, media));
    }
    if let Some(file) = part.get("fileData").or_else(|| part.get("file_data")) {
        let media_type = str_of(file, "mimeType").unwrap_or_default();
        return Some(media_part(
            media_type,
            Media::Url(string_of(file, "fileUri")),
        ));
    }
    if let Some(call) = part.get("functionCall") {
        let id = match str_of(call, "id") {
            Some(id) => id.to_owned(),
            None => {
                *next_id += 1;
                generated_call_id(*next_id)
            }
        };
        let name = string_of(call, "name");
        open_calls.push((id.clone(), name.clone()));
        return Some(Part::ToolCall(ToolCall {
            id,
            name,
            arguments: arguments_text(call.get("args")),
        }));
    }
    if let Some(result) = part.get("functionResponse") {
        let name = string_of(result, "name");
        let position = match str_of(result, "id") {
            Some(id) => open_calls.iter().position(|(open, _)| open == id),
            None => open_calls.iter().position(|(_, open)| *open == name),
        };
        let call_id = match position {
            Some(i) => open_calls.remove(i).0,
            None => str_of(result, "id").map_or_else(|| format!("call_{name}"), str::to_owned),
        };
        let response = result.get("response").unwrap_or(&Value::Null);
        let text = match response.get("content").or_else(|| response.get("output")) {
            Some(Value::String(text)) if response.as_object().is_some_and(|o| o.len() == 1) => {
                text.clone()
            }
            _ => response.to_string(),
        };
        return Some(Part::ToolResult {
            call_id,
            name,
            content: vec![Part::Text(text)],
            is_error: response.get("error").is_some(),
        });
    }
    None
}

fn media_part(media_type: &str, media: Media) -> Part {
    if media_type.starts_with("image/") {
        Part::Image(media)
    } else {
        Part::Document {
            source: media,
            name: None,
        }
    }
}

/// Writes a `generateContent` request (the model goes in the path, not the body).
pub fn request_from_ir(request: &Request) -> Value {
    let mut body = Map::new();
    let mut contents: Vec<Value> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "model",
        };
        // Signatures in the IR come from other providers (Anthropic's thinking): never valid
        // here, so Gemini 3 gets the documented stand-in instead.
        let sign = needs_thought_signature(&request.model);
        let parts: Vec<Value> = message
            .parts
            .iter()
            .filter_map(write_part)
            .map(|mut part| {
                if sign && part.get("functionCall").is_some() {
                    part["thoughtSignature"] = json!(SKIP_SIGNATURE_CHECK);
                }
                part
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["parts"].as_array_mut() {
                    existing.extend(parts);
                }
            }
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    body.insert("contents".into(), Value::Array(contents));
    let system: Vec<Value> = request
        .system
        .iter()
        .filter_map(|p| match p {
            Part::Text(text) => Some(json!({"text": text})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut declaration = json!({"name": tool.name});
                if let Some(description) = &tool.description {
                    declaration["description"] = json!(description);
                }
                if has_properties(&tool.parameters) {
                    declaration["parameters"] = openapi_schema(&tool.parameters);
                }
                declaration
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Named(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }
    let mut config = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            config.insert(key.into(), value);
        }
    };
    put("temperature", request.temperature.map(Value::from));
    put("topP", request.top_p.map(Value::from));
    put("topK", request.top_k.map(Value::from));
    put("maxOutputTokens", request.max_tokens.map(Value::from));
    put(
        "stopSequences",
        (!request.stop.is_empty()).then(|| json!(request.stop)),
    );
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            put("responseMimeType", Some(json!("application/json")))
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            put("responseMimeType", Some(json!("application/json")));
            put("responseSchema", Some(openapi_schema(schema)));
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if let Some(reasoning) = &request.reasoning {
        put(
            "thinkingConfig",
            Some(if reasoning.enabled {
                json!({"thinkingBudget": reasoning.budget(), "includeThoughts": true})
            } else {
                json!({"thinkingBudget": 0})
            }),
        );
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    Value::Object(body)
}

/// Google's documented stand-in for a lost `thoughtSignature` (calls converted from formats
/// that have none); Gemini 3 refuses replayed function calls without one.
pub const SKIP_SIGNATURE_CHECK: &str = "skip_thought_signature_validator";

/// Whether `model` is Gemini 3 or later (which requires signatures on replayed calls).
fn needs_thought_signature(model: &str) -> bool {
    let Some(version) = model
        .strip_prefix("models/")
        .unwrap_or(model)
        .strip_prefix("gemini-")
    else {
        return false;
    };
    let major: String = version.chars().take_while(char::is_ascii_digit).collect();
    major.parse::<u32>().is_ok_and(|major| major >= 3)
}

fn write_part(part: &Part) -> Option<Value> {
    Some(match part {
        Part::Text(text) if text.is_empty() => return None,
        Part::Text(text) => json!({"text": text}),
        Part::Image(media) | Part::Document { source: media, .. } => match media {
            Media::Base64 { media_type, data } => {
                json!({"inlineData": {"mimeType": media_type, "data": data}})
            }
            Media::Url(url) => {
                let guessed = if matches!(part, Part::Image(_)) {
                    "image/jpeg"
                } else {
                    "application/pdf"
                };
                json!({"fileData": {"mimeType": guessed, "fileUri": url}})
            }
        },
        Part::ToolCall(call) => json!({"functionCall": {
            "name": call.name, "args": arguments_object(&call.arguments),
        }}),
        Part::ToolResult {
            name,
            content,
            is_error,
            ..
        } => {
            let text = super::openai_chat::joined_text(content);
            let response = match serde_json::from_str::<Value>(&text) {
                Ok(object @ Value::Object(_)) => object,
                _ if *is_error => json!({"error": text}),
                _ => json!({"content": text}),
            };
            json!({"functionResponse": {"name": name, "response": response}})
        }
        // Thoughts are not sent back to Gemini.
        Part::Reasoning { .. } => return None,
    })
}

fn has_properties(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

/// Keys of Gemini's `Schema` (an OpenAPI 3.0 subset); others (`$schema`,
/// `additionalProperties`, `strict`...) are rejected by the API and dropped here.
const SCHEMA_KEYS: [&str; 20] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "items",
    "minimum",
];

/// A JSON schema narrowed to what Gemini's `Schema` accepts; `"type": ["x", "null"]` becomes
/// `"type": "x", "nullable": true`.
pub(crate) fn openapi_schema(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let value = match key.as_str() {
            "properties" => match value {
                Value::Object(props) => Value::Object(
                    props
                        .iter()
                        .map(|(k, v)| (k.clone(), openapi_schema(v)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" => openapi_schema(value),
            "anyOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(openapi_schema)
                    .collect(),
            ),
            "type" => match value {
                Value::Array(types) => {
                    let concrete: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    if concrete.len() < types.len() {
                        out.insert("nullable".into(), json!(true));
                    }
                    concrete.first().map_or(json!("string"), |t| (*t).clone())
                }
                other => other.clone(),
            },
            "maximum" | "default" => value.clone(),
            k if SCHEMA_KEYS.contains(&k) => value.clone(),
            _ => continue,
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

/// Reads a `generateContent` answer.
pub fn response_to_ir(body: &Value) -> Result<Response, ApiError> {
    let candidate = array_of(body, "candidates").first().unwrap_or(&Value::Null);
    let mut open = Vec::new();
    let mut next_id = 0;
    let parts: Vec<Part> = array_of(&candidate["content"], "parts")
        .iter()
        .filter_map(|p| read_part(p, &mut open, &mut next_id))
        .collect();
    let called = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    let finish = match str_of(candidate, "finishReason") {
        _ if called => FinishReason::ToolCalls,
        Some(reason) => finish_from_gemini(reason),
        None if body.pointer("/promptFeedback/blockReason").is_some() => {
            FinishReason::ContentFilter
        }
        None => FinishReason::Stop,
    };
    Ok(Response {
        id: string_of(body, "responseId"),
        model: string_of(body, "modelVersion"),
        parts,
        finish,
        usage: body
            .get("usageMetadata")
            .map(Usage::from_gemini)
            .unwrap_or_default(),
    })
}

/// Writes a `generateContent` answer.
pub fn response_from_ir(response: &Response) -> Value {
    let parts: Vec<Value> = response
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Reasoning { text, .. } => Some(json!({"text": text, "thought": true})),
            other => write_part(other),
        })
        .collect();
    let mut out = json!({
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_to_gemini(&response.finish),
            "index": 0,
        }],
        "usageMetadata": response.usage.to_gemini(),
        "modelVersion": response.model,
    });
    if !response.id.is_empty() {
        out["responseId"] = json!(response.id);
    }
    out
}

/// Gemini's finish reason in the IR.
pub(crate) fn finish_from_gemini(reason: &str) -> FinishReason {
    match reason {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The IR's finish reason in Gemini's words (tool calls end with `STOP` in Gemini).
pub(crate) fn finish_to_gemini(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Other(other) if other == "OTHER" => "OTHER",
        _ => "STOP",
    }
}
