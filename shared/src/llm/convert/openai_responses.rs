//! OpenAI Responses (`/v1/responses`) to and from the IR: `instructions`, input items
//! (messages, `function_call`, `function_call_output`, `reasoning`), flat function tools,
//! `text.format`, `reasoning.effort`, and the `output` items of an answer.

use serde_json::{Map, Value, json};

use super::openai_chat::joined_text;
use super::{arguments_text, array_of, bad, f64_of, now_secs, str_of, string_of, u64_of};
use crate::llm::errors::ApiError;
use crate::llm::ir::{
    Effort, FinishReason, Media, Message, Part, Reasoning, Request, Response, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, tool_name_of,
};
use crate::llm::usage::Usage;

/// Reads a Responses request.
pub fn request_to_ir(body: &Value) -> Result<Request, ApiError> {
    let mut request = Request {
        model: string_of(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        temperature: f64_of(body, "temperature"),
        top_p: f64_of(body, "top_p"),
        max_tokens: u64_of(body, "max_output_tokens"),
        ..Request::default()
    };
    if let Some(instructions) = str_of(body, "instructions").filter(|t| !t.is_empty()) {
        request.system.push(Part::Text(instructions.to_owned()));
    }
    match body.get("input") {
        Some(Value::String(text)) => push(&mut request, Role::User, vec![Part::Text(text.clone())]),
        Some(Value::Array(items)) => {
            for item in items {
                read_item(item, &mut request);
            }
        }
        _ => return Err(bad("`input` is required").with_param("input")),
    }
    for tool in array_of(body, "tools") {
        if str_of(tool, "type") != Some("function") {
            continue;
        }
        request.tools.push(Tool {
            name: string_of(tool, "name"),
            description: str_of(tool, "description").map(str::to_owned),
            parameters: tool
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
    }
    request.tool_choice = match body.get("tool_choice") {
        Some(Value::String(choice)) => Some(match choice.as_str() {
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => ToolChoice::Auto,
        }),
        Some(choice @ Value::Object(_)) => {
            str_of(choice, "name").map(|n| ToolChoice::Named(n.to_owned()))
        }
        _ => None,
    };
    request.response_format = body.pointer("/text/format").and_then(|format| {
        Some(match str_of(format, "type")? {
            "json_object" => ResponseFormat::JsonObject,
            "json_schema" => ResponseFormat::JsonSchema {
                name: str_of(format, "name").unwrap_or("response").to_owned(),
                schema: format.get("schema").cloned().unwrap_or_else(|| json!({})),
                strict: format.get("strict").and_then(Value::as_bool),
            },
            _ => ResponseFormat::Text,
        })
    });
    request.reasoning = body
        .pointer("/reasoning/effort")
        .and_then(Value::as_str)
        .and_then(Effort::parse)
        .map(|effort| Reasoning {
            enabled: effort != Effort::Minimal,
            effort: Some(effort),
            budget_tokens: None,
        });
    Ok(request)
}

fn push(request: &mut Request, role: Role, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match request.messages.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => request.messages.push(Message { role, parts }),
    }
}

fn read_item(item: &Value, request: &mut Request) {
    match str_of(item, "type").unwrap_or("message") {
        "message" => {
            let parts = match &item["content"] {
                Value::String(text) => vec![Part::Text(text.clone())],
                Value::Array(parts) => parts.iter().filter_map(content_part).collect(),
                _ => Vec::new(),
            };
            match str_of(item, "role") {
                Some("system" | "developer") => request.system.extend(parts),
                Some("assistant") => push(request, Role::Assistant, parts),
                _ => push(request, Role::User, parts),
            }
        }
        "function_call" => {
            let call = Part::ToolCall(ToolCall {
                id: str_of(item, "call_id")
                    .or_else(|| str_of(item, "id"))
                    .unwrap_or_default()
                    .to_owned(),
                name: string_of(item, "name"),
                arguments: arguments_text(item.get("arguments")),
            });
            push(request, Role::Assistant, vec![call]);
        }
        "function_call_output" => {
            let call_id = string_of(item, "call_id");
            let content = match &item["output"] {
                Value::String(text) => vec![Part::Text(text.clone())],
                Value::Array(parts) => parts.iter().filter_map(content_part).collect(),
                _ => Vec::new(),
            };
            let result = Part::ToolResult {
                name: tool_name_of(&request.messages, &call_id).unwrap_or_default(),
                call_id,
                content,
                is_error: false,
            };
            push(request, Role::User, vec![result]);
        }
        "reasoning" => {
            let text: Vec<&str> = array_of(item, "summary")
                .iter()
                .filter_map(|s| str_of(s, "text"))
                .collect();
            if !text.is_empty() {
                let part = Part::Reasoning {
                    text: text.join("\n"),
                    signature: None,
                };
                push(request, Role::Assistant, vec![part]);
            }
        }
        _ => {}
    }
}

fn content_part(part: &Value) -> Option<Part> {
    match str_of(part, "type")? {
        "input_text" | "output_text" | "text" => Some(Part::Text(string_of(part, "text"))),
        "input_image" => {
            let url = match &part["image_url"] {
                Value::String(url) => url.as_str(),
                object => str_of(object, "url")?,
            };
            Some(Part::Image(Media::from_url(url)))
        }
        "input_file" => Some(Part::Document {
            source: Media::from_url(
                str_of(part, "file_data").or_else(|| str_of(part, "file_url"))?,
            ),
            name: str_of(part, "filename").map(str::to_owned),
        }),
        _ => None,
    }
}

/// Writes a Responses request (stop sequences and top_k have no place in it).
pub fn request_from_ir(request: &Request) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let instructions = joined_text(&request.system);
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions));
    }
    let mut input = Vec::new();
    for message in &request.messages {
        let (role, text_type) = match message.role {
            Role::User => ("user", "input_text"),
            Role::Assistant => ("assistant", "output_text"),
        };
        let mut content = Vec::new();
        for part in &message.parts {
            match part {
                Part::Text(text) => content.push(json!({"type": text_type, "text": text})),
                Part::Image(media) => {
                    content.push(json!({"type": "input_image", "image_url": media.to_url()}))
                }
                Part::Document { source, name } => {
                    let mut file = json!({"type": "input_file", "file_data": source.to_url()});
                    if let Some(name) = name {
                        file["filename"] = json!(name);
                    }
                    content.push(file);
                }
                Part::ToolCall(call) => {
                    flush(&mut input, role, &mut content);
                    input.push(json!({"type": "function_call", "call_id": call.id,
                        "name": call.name, "arguments": call.arguments}));
                }
                Part::ToolResult {
                    call_id,
                    content: result,
                    ..
                } => {
                    flush(&mut input, role, &mut content);
                    input.push(json!({"type": "function_call_output", "call_id": call_id,
                        "output": joined_text(result)}));
                }
                Part::Reasoning { .. } => {}
            }
        }
        flush(&mut input, role, &mut content);
    }
    body.insert("input".into(), Value::Array(input));
    if request.stream {
        body.insert("stream".into(), json!(true));
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(max) = request.max_tokens {
        body.insert("max_output_tokens".into(), json!(max));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut out =
                    json!({"type": "function", "name": tool.name, "parameters": tool.parameters});
                if let Some(description) = &tool.description {
                    out["description"] = json!(description);
                }
                out
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = &request.tool_choice {
        body.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Named(name) => json!({"type": "function", "name": name}),
            },
        );
    }
    if let Some(format) = &request.response_format {
        let format = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut out = json!({"type": "json_schema", "name": name, "schema": schema});
                if let Some(strict) = strict {
                    out["strict"] = json!(strict);
                }
                out
            }
        };
        body.insert("text".into(), json!({"format": format}));
    }
    if let Some(reasoning) = &request.reasoning {
        let effort = if reasoning.enabled {
            reasoning.effort()
        } else {
            Effort::Minimal
        };
        body.insert("reasoning".into(), json!({"effort": effort.name()}));
    }
    Value::Object(body)
}

fn flush(input: &mut Vec<Value>, role: &str, content: &mut Vec<Value>) {
    if !content.is_empty() {
        input.push(json!({"type": "message", "role": role, "content": std::mem::take(content)}));
    }
}

/// Reads a Responses answer.
pub fn response_to_ir(body: &Value) -> Result<Response, ApiError> {
    let mut parts = Vec::new();
    for item in array_of(body, "output") {
        match str_of(item, "type") {
            Some("message") => {
                for content in array_of(item, "content") {
                    if let Some(text) = str_of(content, "text").filter(|t| !t.is_empty()) {
                        parts.push(Part::Text(text.to_owned()));
                    }
                }
            }
            Some("function_call") => parts.push(Part::ToolCall(ToolCall {
                id: str_of(item, "call_id")
                    .or_else(|| str_of(item, "id"))
                    .unwrap_or_default()
                    .to_owned(),
                name: string_of(item, "name"),
                arguments: arguments_text(item.get("arguments")),
            })),
            Some("reasoning") => {
                let text: Vec<&str> = array_of(item, "summary")
                    .iter()
                    .filter_map(|s| str_of(s, "text"))
                    .collect();
                if !text.is_empty() {
                    parts.push(Part::Reasoning {
                        text: text.join("\n"),
                        signature: None,
                    });
                }
            }
            _ => {}
        }
    }
    let called = parts.iter().any(|p| matches!(p, Part::ToolCall(_)));
    let finish = match str_of(body, "status") {
        Some("incomplete") => match body
            .pointer("/incomplete_details/reason")
            .and_then(Value::as_str)
        {
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Length,
        },
        Some("failed") => FinishReason::Other("failed".to_owned()),
        _ if called => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    };
    Ok(Response {
        id: string_of(body, "id"),
        model: string_of(body, "model"),
        parts,
        finish,
        usage: body
            .get("usage")
            .map(Usage::from_responses)
            .unwrap_or_default(),
    })
}

/// Writes a Responses answer.
pub fn response_from_ir(response: &Response) -> Value {
    let id = response_id(&response.id);
    let mut output = Vec::new();
    let mut text = String::new();
    for part in &response.parts {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::Reasoning { text: r, .. } => output.push(json!({
                "type": "reasoning", "id": format!("rs_{id}"),
                "summary": [{"type": "summary_text", "text": r}],
            })),
            Part::ToolCall(call) => output.push(json!({
                "type": "function_call", "id": format!("fc_{}", call.id), "call_id": call.id,
                "name": call.name, "arguments": call.arguments, "status": "completed",
            })),
            _ => {}
        }
    }
    if !text.is_empty() {
        output.push(json!({
            "type": "message", "id": format!("msg_{id}"), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }));
    }
    let (status, incomplete) = match response.finish {
        FinishReason::Length => ("incomplete", json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    };
    json!({
        "id": id,
        "object": "response",
        "created_at": now_secs(),
        "status": status,
        "incomplete_details": incomplete,
        "model": response.model,
        "output": output,
        "usage": response.usage.to_responses(),
    })
}

/// A response id: the upstream's, prefixed as OpenAI's are.
pub(crate) fn response_id(id: &str) -> String {
    if id.starts_with("resp_") {
        id.to_owned()
    } else {
        format!("resp_{id}")
    }
}
