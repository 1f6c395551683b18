//! What every endpoint handler gets (`Ctx`) and gives back (`Reply`), with the request checks
//! the endpoints share.

use super::config::MockConfig;
use super::errors::{self, Dialect};
use super::http::{Request, Response};
use super::knobs::Knobs;
use super::sse::Stream;
use super::text;
use serde_json::Value;

/// One request as a handler sees it.
pub(crate) struct Ctx<'a> {
    pub req: &'a Request,
    /// The body parsed as JSON, when it is JSON.
    pub json: Option<&'a Value>,
    pub knobs: &'a Knobs,
    pub config: &'a MockConfig,
}

/// A handler's answer.
pub(crate) enum Reply {
    Full(Response),
    Stream(Stream),
}

/// What handlers return: an answer, or an error response in the provider's format.
pub(crate) type HandlerResult = Result<Reply, Response>;

impl Ctx<'_> {
    /// The JSON body, or the provider's 400 for a body that is not JSON.
    pub(crate) fn body(&self, dialect: Dialect) -> Result<&Value, Response> {
        self.json.ok_or_else(|| {
            let message = match dialect {
                Dialect::OpenAi => "We could not parse the JSON body of your request.",
                Dialect::Anthropic => "There was an error parsing the body of your request.",
                Dialect::Gemini => "Invalid JSON payload received.",
            };
            errors::error(dialect, 400, message, None)
        })
    }

    /// The body's `model`, or the provider's 400 when it is missing.
    pub(crate) fn model(&self, dialect: Dialect) -> Result<String, Response> {
        let body = self.body(dialect)?;
        match body.get("model").and_then(Value::as_str) {
            Some(model) => Ok(model.to_string()),
            None => {
                let message = match dialect {
                    Dialect::Anthropic => "model: Field required",
                    _ => "you must provide a model parameter",
                };
                Err(errors::error(dialect, 400, message, None))
            }
        }
    }

    /// Whether the JSON body asks for a stream (`"stream": true`).
    pub(crate) fn wants_stream(&self) -> bool {
        self.json
            .and_then(|j| j.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether an OpenAI stream must end with a usage chunk: the request asked
    /// (`stream_options.include_usage`) and usage is not suppressed.
    pub(crate) fn include_usage(&self) -> bool {
        !self.knobs.no_usage
            && self
                .json
                .and_then(|j| j.pointer("/stream_options/include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
    }

    /// The whole generated answer of a non-streamed response.
    pub(crate) fn answer(&self) -> String {
        text::full_text(self.knobs.chunks, self.knobs.chunk_bytes())
    }

    /// OpenAI's finish reason: `length` when the request's completion limit cut the answer,
    /// else `stop`.
    pub(crate) fn finish_reason(&self) -> &'static str {
        if self.knobs.truncated {
            "length"
        } else {
            "stop"
        }
    }

    /// A JSON string literal (quotes included) for splicing into pre-rendered events.
    pub(crate) fn quoted(value: &str) -> String {
        serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
    }
}

/// Shorthand for a successful JSON answer.
pub(crate) fn json(value: &Value) -> HandlerResult {
    Ok(Reply::Full(Response::json(200, value)))
}
