//! Error answers in the format of the provider whose endpoint was called: OpenAI's
//! `{"error": {message, type, param, code}}`, Anthropic's `{"type": "error", "error": {...}}`
//! and Gemini's `{"error": {code, message, status}}`.

use super::http::Response;
use serde_json::json;

/// Which provider's conventions an endpoint follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Dialect {
    /// The dialect of a request path.
    pub(crate) fn of(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Self::Anthropic
        } else if path.starts_with("/v1beta/")
            || path.contains(":generateContent")
            || path.contains(":streamGenerateContent")
        {
            Self::Gemini
        } else {
            Self::OpenAi
        }
    }
}

/// An error response with `status` and a provider-format body. A 429 carries `Retry-After`
/// when one is given.
pub(crate) fn error(
    dialect: Dialect,
    status: u16,
    message: &str,
    retry_after: Option<&str>,
) -> Response {
    let body = match dialect {
        Dialect::OpenAi => {
            let (kind, code) = openai_kind(status);
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        Dialect::Anthropic => json!({
            "type": "error",
            "error": {"type": anthropic_kind(status), "message": message},
        }),
        Dialect::Gemini => json!({
            "error": {"code": status, "message": message, "status": gemini_status(status)},
        }),
    };
    let mut resp = Response::json(status, &body);
    if status == 429
        && let Some(after) = retry_after
    {
        resp.headers.push(("retry-after", after.to_string()));
    }
    resp
}

/// The provider's 404 for a path the mock does not serve.
pub(crate) fn unknown_route(method: &str, path: &str) -> Response {
    let message = format!("Invalid URL ({method} {path})");
    match Dialect::of(path) {
        // OpenAI's answer for an unknown route carries no code (unlike an unknown model).
        Dialect::OpenAi => Response::json(
            404,
            &json!({"error": {
                "message": message, "type": "invalid_request_error", "param": null, "code": null,
            }}),
        ),
        dialect => error(dialect, 404, &message, None),
    }
}

/// The message an injected error carries, close to what the provider says.
pub(crate) fn injected_message(status: u16) -> &'static str {
    match status {
        400 => "Mock upstream: injected bad request.",
        401 => "Incorrect API key provided (mock upstream).",
        403 => "Mock upstream: permission denied.",
        404 => "Mock upstream: the model does not exist.",
        429 => "Rate limit reached (mock upstream).",
        529 => "Overloaded (mock upstream).",
        s if s >= 500 => "The server had an error while processing your request (mock upstream).",
        _ => "Mock upstream: injected error.",
    }
}

fn openai_kind(status: u16) -> (&'static str, Option<&'static str>) {
    match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => (
            "invalid_request_error",
            Some("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", None),
        _ => ("invalid_request_error", None),
    }
}

fn anthropic_kind(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

fn gemini_status(status: u16) -> &'static str {
    match status {
        400 | 413 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_path() {
        assert_eq!(Dialect::of("/v1/chat/completions"), Dialect::OpenAi);
        assert_eq!(Dialect::of("/v1/messages"), Dialect::Anthropic);
        assert_eq!(
            Dialect::of("/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
            Dialect::Gemini
        );
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let resp = error(Dialect::OpenAi, 429, "slow down", Some("7"));
        assert_eq!(resp.headers, vec![("retry-after", "7".to_string())]);
        let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        let resp = error(Dialect::Anthropic, 500, "boom", Some("7"));
        assert!(resp.headers.is_empty());
    }
}
