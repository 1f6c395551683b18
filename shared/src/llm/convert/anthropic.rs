//! Anthropic Messages (`/v1/messages`) to and from the IR: system blocks, content blocks
//! (text, image, document, tool_use, tool_result, thinking), tools and tool choice, extended
//! thinking, and stop reasons.

use serde_json::{Map, Value, json};

use super::{arguments_object, arguments_text, array_of, bad, f64_of, str_of, string_of, u64_of};
use crate::llm::errors::ApiError;
use crate::llm::ir::{
    FinishReason, Media, Message, Part, Reasoning, Request, Response, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice, tool_name_of,
};
use crate::llm::usage::Usage;

/// Anthropic requires `max_tokens`; this is used when the client's format had none.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// Reads a Messages request.
pub fn request_to_ir(body: &Value) -> Result<Request, ApiError> {
    let mut request = Request {
        model: string_of(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        temperature: f64_of(body, "temperature"),
        top_p: f64_of(body, "top_p"),
        top_k: u64_of(body, "top_k"),
        max_tokens: u64_of(body, "max_tokens"),
        ..Request::default()
    };
    request.system = match body.get("system") {
        Some(Value::String(text)) if !text.is_empty() => vec![Part::Text(text.clone())],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| str_of(b, "text").map(|t| Part::Text(t.to_owned())))
            .collect(),
        _ => Vec::new(),
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(bad("messages: Field required"));
    };
    for message in messages {
        let role = match str_of(message, "role") {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            other => return Err(bad(format!("messages: unexpected role {other:?}"))),
        };
        let parts = match &message["content"] {
            Value::String(text) => vec![Part::Text(text.clone())],
            Value::Array(blocks) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for block in blocks {
                    if let Some(part) = block_to_part(block, &request.messages) {
                        parts.push(part);
                    }
                }
                parts
            }
            _ => Vec::new(),
        };
        match request.messages.last_mut() {
            Some(last) if last.role == role => last.parts.extend(parts),
            _ => request.messages.push(Message { role, parts }),
        }
    }
    request.stop = array_of(body, "stop_sequences")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    for tool in array_of(body, "tools") {
        // Server tools (web search, code execution...) have no schema and no IR equivalent.
        let (Some(name), Some(schema)) = (str_of(tool, "name"), tool.get("input_schema")) else {
            continue;
        };
        request.tools.push(Tool {
            name: name.to_owned(),
            description: str_of(tool, "description").map(str::to_owned),
            parameters: schema.clone(),
        });
    }
    request.tool_choice = body.get("tool_choice").and_then(|choice| {
        Some(match str_of(choice, "type")? {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Named(string_of(choice, "name")),
            _ => return None,
        })
    });
    request.reasoning = body.get("thinking").and_then(|thinking| {
        let enabled = str_of(thinking, "type")? != "disabled";
        Some(Reasoning {
            enabled,
            effort: None,
            budget_tokens: u64_of(thinking, "budget_tokens"),
        })
    });
    request.response_format = body
        .get("output_format")
        .filter(|f| str_of(f, "type") == Some("json_schema"))
        .map(|format| ResponseFormat::JsonSchema {
            name: "response".to_owned(),
            schema: format.get("schema").cloned().unwrap_or_else(|| json!({})),
            strict: None,
        });
    Ok(request)
}

fn media_of(source: &Value) -> Option<Media> {
    match str_of(source, "type")? {
        "base64" => Some(Media::Base64 {
            media_type: string_of(source, "media_type"),
            data: string_of(source, "data"),
        }),
        "url" => Some(Media::Url(string_of(source, "url"))),
        _ => None,
    }
}

fn block_to_part(block: &Value, earlier: &[Message]) -> Option<Part> {
    Some(match str_of(block, "type")? {
        "text" => Part::Text(string_of(block, "text")),
        "image" => Part::Image(media_of(&block["source"])?),
        "document" => {
            let source = &block["source"];
            if str_of(source, "type") == Some("text") {
                Part::Text(string_of(source, "data"))
            } else {
                Part::Document {
                    source: media_of(source)?,
                    name: str_of(block, "title").map(str::to_owned),
                }
            }
        }
        "tool_use" => Part::ToolCall(ToolCall {
            id: string_of(block, "id"),
            name: string_of(block, "name"),
            arguments: arguments_text(block.get("input")),
        }),
        "tool_result" => {
            let call_id = string_of(block, "tool_use_id");
            let content = match &block["content"] {
                Value::String(text) => vec![Part::Text(text.clone())],
                Value::Array(items) => items
                    .iter()
                    .filter_map(|b| block_to_part(b, earlier))
                    .collect(),
                _ => Vec::new(),
            };
            Part::ToolResult {
                name: tool_name_of(earlier, &call_id).unwrap_or_default(),
                call_id,
                content,
                is_error: block
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }
        }
        "thinking" => Part::Reasoning {
            text: string_of(block, "thinking"),
            signature: str_of(block, "signature").map(str::to_owned),
        },
        _ => return None,
    })
}

/// Writes a Messages request.
pub fn request_from_ir(request: &Request) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let thinking = request.reasoning.filter(|r| r.enabled);
    let mut max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(reasoning) = thinking {
        let budget = reasoning.budget().max(1024);
        // Anthropic wants max_tokens above the thinking budget.
        if max_tokens <= budget {
            max_tokens = budget.saturating_add(max_tokens);
        }
        body.insert(
            "thinking".into(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    let system: Vec<Value> = request
        .system
        .iter()
        .filter_map(|p| match p {
            Part::Text(t) if !t.is_empty() => Some(json!({"type": "text", "text": t})),
            _ => None,
        })
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut messages: Vec<Value> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let blocks: Vec<Value> = message.parts.iter().filter_map(part_to_block).collect();
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(content) = last["content"].as_array_mut() {
                    content.extend(blocks);
                }
            }
            _ => messages.push(json!({"role": role, "content": blocks})),
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    // Extended thinking accepts neither a changed temperature nor top_k.
    if thinking.is_none() {
        if let Some(t) = request.temperature {
            body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
        }
        if let Some(k) = request.top_k {
            body.insert("top_k".into(), json!(k));
        }
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut out = json!({"name": tool.name, "input_schema": tool.parameters});
                if let Some(description) = &tool.description {
                    out["description"] = json!(description);
                }
                out
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        let choice = match choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Named(name) => json!({"type": "tool", "name": name}),
        };
        if !request.tools.is_empty() {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format {
        body.insert(
            "output_format".into(),
            json!({"type": "json_schema", "schema": schema}),
        );
    }
    Value::Object(body)
}

fn media_source(media: &Media) -> Value {
    match media {
        Media::Url(url) => json!({"type": "url", "url": url}),
        Media::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
    }
}

fn part_to_block(part: &Part) -> Option<Value> {
    Some(match part {
        Part::Text(text) if text.is_empty() => return None,
        Part::Text(text) => json!({"type": "text", "text": text}),
        Part::Image(media) => json!({"type": "image", "source": media_source(media)}),
        Part::Document { source, name } => {
            let mut block = json!({"type": "document", "source": media_source(source)});
            if let Some(name) = name {
                block["title"] = json!(name);
            }
            block
        }
        Part::ToolCall(call) => json!({
            "type": "tool_use", "id": call.id, "name": call.name,
            "input": arguments_object(&call.arguments),
        }),
        Part::ToolResult {
            call_id,
            content,
            is_error,
            ..
        } => {
            let blocks: Vec<Value> = content.iter().filter_map(part_to_block).collect();
            let mut block =
                json!({"type": "tool_result", "tool_use_id": call_id, "content": blocks});
            if *is_error {
                block["is_error"] = json!(true);
            }
            block
        }
        // Anthropic accepts earlier thinking only with its own signature.
        Part::Reasoning {
            text,
            signature: Some(signature),
        } => {
            json!({"type": "thinking", "thinking": text, "signature": signature})
        }
        Part::Reasoning {
            signature: None, ..
        } => return None,
    })
}

/// Reads a Messages answer.
pub fn response_to_ir(body: &Value) -> Result<Response, ApiError> {
    let parts = array_of(body, "content")
        .iter()
        .filter_map(|block| block_to_part(block, &[]))
        .collect();
    Ok(Response {
        id: string_of(body, "id"),
        model: string_of(body, "model"),
        parts,
        finish: finish_from_anthropic(
            str_of(body, "stop_reason").unwrap_or("end_turn"),
            str_of(body, "stop_sequence"),
        ),
        usage: body
            .get("usage")
            .map(Usage::from_anthropic)
            .unwrap_or_default(),
    })
}

/// Writes a Messages answer.
pub fn response_from_ir(response: &Response) -> Value {
    let content: Vec<Value> = response
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Reasoning { text, signature } => Some(json!({
                "type": "thinking", "thinking": text, "signature": signature.clone().unwrap_or_default(),
            })),
            other => part_to_block(other),
        })
        .collect();
    let (stop_reason, stop_sequence) = finish_to_anthropic(&response.finish);
    json!({
        "id": message_id(&response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": response.usage.to_anthropic(),
    })
}

/// A message id: the upstream's, prefixed as Anthropic's are.
pub(crate) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else {
        format!("msg_{id}")
    }
}

/// Anthropic's stop reason in the IR.
pub(crate) fn finish_from_anthropic(reason: &str, sequence: Option<&str>) -> FinishReason {
    match reason {
        "end_turn" => FinishReason::Stop,
        "stop_sequence" => FinishReason::StopSequence(sequence.map(str::to_owned)),
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The IR's finish reason in Anthropic's words, with the stop sequence when known.
pub(crate) fn finish_to_anthropic(reason: &FinishReason) -> (&'static str, Option<String>) {
    match reason {
        FinishReason::Stop => ("end_turn", None),
        FinishReason::StopSequence(sequence) => ("stop_sequence", sequence.clone()),
        FinishReason::Length => ("max_tokens", None),
        FinishReason::ToolCalls => ("tool_use", None),
        FinishReason::ContentFilter => ("refusal", None),
        FinishReason::Other(other) if other == "pause_turn" => ("pause_turn", None),
        FinishReason::Other(_) => ("end_turn", None),
    }
}
