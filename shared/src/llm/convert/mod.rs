//! Conversion between formats through the intermediate representation: each format module
//! reads its requests and answers into [`crate::llm::ir`] and writes them back out.
//! [`convert_request`] and [`convert_response`] join any two.

pub mod anthropic;
pub mod embeddings;
pub mod gemini;
pub mod openai_chat;
pub mod openai_responses;

use serde_json::Value;

use super::errors::{ApiError, ErrorKind};
use super::format::ApiFormat;
use super::ir::{Request, Response};
use super::usage::Usage;

/// Reads a request body of `format` into the IR. `model_from_path` fills the model for Gemini.
pub fn request_to_ir(
    format: ApiFormat,
    body: &[u8],
    model_from_path: Option<&str>,
) -> Result<Request, ApiError> {
    let value = parse_object(body)?;
    let mut request = match format {
        ApiFormat::OpenAiChat => openai_chat::request_to_ir(&value)?,
        ApiFormat::OpenAiResponses => openai_responses::request_to_ir(&value)?,
        ApiFormat::Anthropic => anthropic::request_to_ir(&value)?,
        ApiFormat::Gemini => gemini::request_to_ir(&value)?,
        other => return Err(unconvertible(other)),
    };
    if let Some(model) = model_from_path {
        request.model = model.to_owned();
    }
    Ok(request)
}

/// Writes an IR request in `format`.
pub fn request_from_ir(format: ApiFormat, request: &Request) -> Result<Value, ApiError> {
    Ok(match format {
        ApiFormat::OpenAiChat => openai_chat::request_from_ir(request),
        ApiFormat::OpenAiResponses => openai_responses::request_from_ir(request),
        ApiFormat::Anthropic => anthropic::request_from_ir(request),
        ApiFormat::Gemini => gemini::request_from_ir(request),
        other => return Err(unconvertible(other)),
    })
}

/// Reads a complete answer of `format` into the IR.
pub fn response_to_ir(format: ApiFormat, body: &[u8]) -> Result<Response, ApiError> {
    let value = parse_object(body).map_err(|e| ApiError::new(ErrorKind::Internal, e.message))?;
    match format {
        ApiFormat::OpenAiChat => openai_chat::response_to_ir(&value),
        ApiFormat::OpenAiResponses => openai_responses::response_to_ir(&value),
        ApiFormat::Anthropic => anthropic::response_to_ir(&value),
        ApiFormat::Gemini => gemini::response_to_ir(&value),
        other => Err(unconvertible(other)),
    }
}

/// Writes an IR answer in `format`.
pub fn response_from_ir(format: ApiFormat, response: &Response) -> Result<Value, ApiError> {
    Ok(match format {
        ApiFormat::OpenAiChat => openai_chat::response_from_ir(response),
        ApiFormat::OpenAiResponses => openai_responses::response_from_ir(response),
        ApiFormat::Anthropic => anthropic::response_from_ir(response),
        ApiFormat::Gemini => gemini::response_from_ir(response),
        other => return Err(unconvertible(other)),
    })
}

/// A client's request body of `from` as a body for an upstream of `to`, with `model` (the
/// upstream's model name, after mapping). Errors are the client's fault (400).
pub fn convert_request(
    from: ApiFormat,
    to: ApiFormat,
    body: &[u8],
    model_from_path: Option<&str>,
    model: &str,
) -> Result<(Request, Vec<u8>), ApiError> {
    let mut request = request_to_ir(from, body, model_from_path)?;
    request.model = model.to_owned();
    let out = request_from_ir(to, &request)?;
    Ok((request, out.to_string().into_bytes()))
}

/// An upstream's complete answer of `from` as a body for a client of `to`, with its usage.
/// `model` is the name the client asked for (shown back to it).
pub fn convert_response(
    from: ApiFormat,
    to: ApiFormat,
    body: &[u8],
    model: &str,
) -> Result<(Vec<u8>, Usage), ApiError> {
    let mut response = response_to_ir(from, body)?;
    if !model.is_empty() {
        response.model = model.to_owned();
    }
    let out = response_from_ir(to, &response)?;
    Ok((out.to_string().into_bytes(), response.usage))
}

fn unconvertible(format: ApiFormat) -> ApiError {
    ApiError::new(
        ErrorKind::InvalidRequest,
        format!("{format:?} requests cannot be converted to another format"),
    )
}

/// Parses a JSON object body.
fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(bad("the request body must be a JSON object")),
        Err(e) => Err(bad(format!("the request body is not valid JSON: {e}"))),
    }
}

/// A 400 with `message`.
pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidRequest, message)
}

/// A string field, `None` when absent or not a string.
pub(crate) fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A string field, empty when absent.
pub(crate) fn string_of(value: &Value, key: &str) -> String {
    str_of(value, key).unwrap_or_default().to_owned()
}

/// An array field, empty when absent.
pub(crate) fn array_of<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A number field.
pub(crate) fn f64_of(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// A non-negative integer field.
pub(crate) fn u64_of(value: &Value, key: &str) -> Option<u64> {
    value
        .get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
}

/// JSON text for tool-call arguments given as an object (or text already).
pub(crate) fn arguments_text(arguments: Option<&Value>) -> String {
    match arguments {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// Tool-call arguments text as a JSON object (an empty one when it is not valid JSON).
pub(crate) fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(value @ Value::Object(_)) => value,
        _ => Value::Object(serde_json::Map::new()),
    }
}

/// Seconds since the epoch, for `created` fields.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
pub(crate) mod samples;
#[cfg(test)]
mod tests;
