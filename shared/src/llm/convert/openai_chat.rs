//! OpenAI chat completions (`/v1/chat/completions`) to and from the IR, including the
//! OpenAI-compatible `reasoning_content` (DeepSeek, vLLM, new-api) for reasoning text.

use serde_json::{Map, Value, json};

use super::{arguments_text, array_of, bad, f64_of, now_secs, str_of, string_of, u64_of};
use crate::llm::errors::ApiError;
use crate::llm::ir::{
    Effort, FinishReason, Media, Message, Part, Reasoning, Request, Response, ResponseFormat, Role,
    Tool, ToolCall, ToolChoice, tool_name_of,
};
use crate::llm::usage::Usage;

/// Reads a chat completions request.
pub fn request_to_ir(body: &Value) -> Result<Request, ApiError> {
    let mut request = Request {
        model: string_of(body, "model"),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        temperature: f64_of(body, "temperature"),
        top_p: f64_of(body, "top_p"),
        top_k: u64_of(body, "top_k"),
        max_tokens: u64_of(body, "max_completion_tokens").or_else(|| u64_of(body, "max_tokens")),
        ..Request::default()
    };
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(bad("`messages` is required and must be an array").with_param("messages"));
    };
    for message in messages {
        read_message(message, &mut request)?;
    }
    request.stop = match body.get("stop") {
        Some(Value::String(stop)) => vec![stop.clone()],
        Some(Value::Array(stops)) => stops
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    for tool in array_of(body, "tools") {
        let function = &tool["function"];
        let Some(name) = str_of(function, "name") else {
            continue;
        };
        request.tools.push(Tool {
            name: name.to_owned(),
            description: str_of(function, "description").map(str::to_owned),
            parameters: function
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
    }
    request.tool_choice = match body.get("tool_choice") {
        Some(Value::String(choice)) => match choice.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(choice @ Value::Object(_)) => choice
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Named(name.to_owned())),
        _ => None,
    };
    request.response_format =
        body.get("response_format")
            .and_then(|format| match str_of(format, "type")? {
                "json_object" => Some(ResponseFormat::JsonObject),
                "json_schema" => {
                    let spec = &format["json_schema"];
                    Some(ResponseFormat::JsonSchema {
                        name: str_of(spec, "name").unwrap_or("response").to_owned(),
                        schema: spec.get("schema").cloned().unwrap_or_else(|| json!({})),
                        strict: spec.get("strict").and_then(Value::as_bool),
                    })
                }
                _ => Some(ResponseFormat::Text),
            });
    request.reasoning = str_of(body, "reasoning_effort")
        .and_then(Effort::parse)
        .map(|effort| Reasoning {
            enabled: effort != Effort::Minimal,
            effort: Some(effort),
            budget_tokens: None,
        });
    Ok(request)
}

fn read_message(message: &Value, request: &mut Request) -> Result<(), ApiError> {
    let role = str_of(message, "role").unwrap_or_default();
    let content = message.get("content").unwrap_or(&Value::Null);
    match role {
        "system" | "developer" => request.system.extend(content_parts(content)),
        "user" => push(request, Role::User, content_parts(content)),
        "assistant" => {
            let mut parts = Vec::new();
            let reasoning =
                str_of(message, "reasoning_content").or_else(|| str_of(message, "reasoning"));
            if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                parts.push(Part::Reasoning {
                    text: text.to_owned(),
                    signature: None,
                });
            }
            parts.extend(content_parts(content));
            for call in array_of(message, "tool_calls") {
                let function = &call["function"];
                parts.push(Part::ToolCall(ToolCall {
                    id: string_of(call, "id"),
                    name: string_of(function, "name"),
                    arguments: arguments_text(function.get("arguments")),
                }));
            }
            push(request, Role::Assistant, parts);
        }
        "tool" => {
            let call_id = string_of(message, "tool_call_id");
            let name = tool_name_of(&request.messages, &call_id).unwrap_or_default();
            let result = Part::ToolResult {
                call_id,
                name,
                content: content_parts(content),
                is_error: false,
            };
            push(request, Role::User, vec![result]);
        }
        other => return Err(bad(format!("unknown message role `{other}`")).with_param("messages")),
    }
    Ok(())
}

/// Appends parts, merging into the previous message when the role is the same (formats that
/// want alternating roles need it; OpenAI does not mind).
fn push(request: &mut Request, role: Role, parts: Vec<Part>) {
    if parts.is_empty() {
        return;
    }
    match request.messages.last_mut() {
        Some(last) if last.role == role => last.parts.extend(parts),
        _ => request.messages.push(Message { role, parts }),
    }
}

/// Message content: a string or an array of typed parts.
fn content_parts(content: &Value) -> Vec<Part> {
    match content {
        Value::String(text) if !text.is_empty() => vec![Part::Text(text.clone())],
        Value::Array(items) => items.iter().filter_map(content_part).collect(),
        _ => Vec::new(),
    }
}

fn content_part(item: &Value) -> Option<Part> {
    match str_of(item, "type")? {
        "text" | "input_text" => Some(Part::Text(string_of(item, "text"))),
        "image_url" => {
            let url = match &item["image_url"] {
                Value::String(url) => url.as_str(),
                object => str_of(object, "url")?,
            };
            Some(Part::Image(Media::from_url(url)))
        }
        "file" => {
            let file = &item["file"];
            let data = str_of(file, "file_data")?;
            Some(Part::Document {
                source: Media::from_url(data),
                name: str_of(file, "filename").map(str::to_owned),
            })
        }
        _ => None,
    }
}

/// Writes a chat completions request. Streams always ask for the usage chunk (billing needs
/// it); whether the client sees it is the transcoder's business.
pub fn request_from_ir(request: &Request) -> Value {
    let mut messages = Vec::new();
    let system = joined_text(&request.system);
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => write_user(message, &mut messages),
            Role::Assistant => messages.push(write_assistant(message)),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    if request.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    insert_some(
        &mut body,
        "temperature",
        request.temperature.map(Value::from),
    );
    insert_some(&mut body, "top_p", request.top_p.map(Value::from));
    if let Some(max) = request.max_tokens {
        let key = if request.reasoning.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), json!(max));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = json!({"name": tool.name, "parameters": tool.parameters});
                if let Some(description) = &tool.description {
                    function["description"] = json!(description);
                }
                json!({"type": "function", "function": function})
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
                ToolChoice::Named(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if let Some(format) = &request.response_format {
        body.insert(
            "response_format".into(),
            match format {
                ResponseFormat::Text => json!({"type": "text"}),
                ResponseFormat::JsonObject => json!({"type": "json_object"}),
                ResponseFormat::JsonSchema {
                    name,
                    schema,
                    strict,
                } => {
                    let mut spec = json!({"name": name, "schema": schema});
                    if let Some(strict) = strict {
                        spec["strict"] = json!(strict);
                    }
                    json!({"type": "json_schema", "json_schema": spec})
                }
            },
        );
    }
    if let Some(reasoning) = &request.reasoning {
        let effort = if reasoning.enabled {
            reasoning.effort()
        } else {
            Effort::Minimal
        };
        body.insert("reasoning_effort".into(), json!(effort.name()));
    }
    Value::Object(body)
}

fn insert_some(body: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        body.insert(key.into(), value);
    }
}

/// A user message: tool results become `tool` messages, the rest one `user` message.
fn write_user(message: &Message, out: &mut Vec<Value>) {
    let mut content = Vec::new();
    for part in &message.parts {
        match part {
            Part::ToolResult {
                call_id,
                content: result,
                is_error,
                ..
            } => {
                let mut text = joined_text(result);
                if *is_error && !text.starts_with("Error") {
                    text = format!("Error: {text}");
                }
                out.push(json!({"role": "tool", "tool_call_id": call_id, "content": text}));
            }
            other => content.extend(content_item(other)),
        }
    }
    if content.is_empty() {
        return;
    }
    let only_text = content.len() == 1 && content[0]["type"] == "text";
    let content = if only_text {
        content[0]["text"].clone()
    } else {
        Value::Array(content)
    };
    out.push(json!({"role": "user", "content": content}));
}

fn content_item(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) => Some(json!({"type": "text", "text": text})),
        Part::Image(media) => {
            Some(json!({"type": "image_url", "image_url": {"url": media.to_url()}}))
        }
        Part::Document { source, name } => {
            let mut file = json!({"file_data": source.to_url()});
            if let Some(name) = name {
                file["filename"] = json!(name);
            }
            Some(json!({"type": "file", "file": file}))
        }
        _ => None,
    }
}

fn write_assistant(message: &Message) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::ToolCall(call) => calls.push(json!({
                "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })),
            _ => {}
        }
    }
    let mut out = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        out["tool_calls"] = Value::Array(calls);
    }
    out
}

/// The text parts joined.
pub(crate) fn joined_text(parts: &[Part]) -> String {
    let mut text = String::new();
    for part in parts {
        if let Part::Text(t) = part {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(t);
        }
    }
    text
}

/// Reads a chat completion.
pub fn response_to_ir(body: &Value) -> Result<Response, ApiError> {
    let choice = array_of(body, "choices").first().unwrap_or(&Value::Null);
    let message = &choice["message"];
    let mut parts = Vec::new();
    let reasoning = str_of(message, "reasoning_content").or_else(|| str_of(message, "reasoning"));
    if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
        parts.push(Part::Reasoning {
            text: text.to_owned(),
            signature: None,
        });
    }
    if let Some(text) = str_of(message, "content").filter(|t| !t.is_empty()) {
        parts.push(Part::Text(text.to_owned()));
    }
    for call in array_of(message, "tool_calls") {
        parts.push(Part::ToolCall(ToolCall {
            id: string_of(call, "id"),
            name: string_of(&call["function"], "name"),
            arguments: arguments_text(call["function"].get("arguments")),
        }));
    }
    Ok(Response {
        id: string_of(body, "id"),
        model: string_of(body, "model"),
        parts,
        finish: finish_from_openai(str_of(choice, "finish_reason").unwrap_or("stop")),
        usage: body
            .get("usage")
            .map(Usage::from_openai)
            .unwrap_or_default(),
    })
}

/// Writes a chat completion.
pub fn response_from_ir(response: &Response) -> Value {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for part in &response.parts {
        match part {
            Part::Text(t) => text.push_str(t),
            Part::Reasoning { text: r, .. } => reasoning.push_str(r),
            Part::ToolCall(call) => calls.push(json!({
                "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            })),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": chat_id(&response.id),
        "object": "chat.completion",
        "created": now_secs(),
        "model": response.model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
            "finish_reason": finish_to_openai(&response.finish)}],
        "usage": response.usage.to_openai(),
    })
}

/// A chat id: the upstream's, prefixed as OpenAI's are.
pub(crate) fn chat_id(id: &str) -> String {
    if id.starts_with("chatcmpl-") {
        id.to_owned()
    } else {
        format!("chatcmpl-{id}")
    }
}

/// OpenAI's finish reason in the IR.
pub(crate) fn finish_from_openai(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The IR's finish reason in OpenAI's words.
pub(crate) fn finish_to_openai(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::StopSequence(_) | FinishReason::Other(_) => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}
