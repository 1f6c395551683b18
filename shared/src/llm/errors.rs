//! Errors in each provider's own shape and statuses. [`ApiError`] is what went wrong, in
//! Pylon's terms; [`ApiError::render`] writes it as the client's format expects, and
//! [`parse_upstream_error`] reads any provider's error body back into one.
//!
//! - OpenAI: `{"error":{"message","type","param","code"}}`
//! - Anthropic: `{"type":"error","error":{"type","message"}}`
//! - Gemini: `{"error":{"code","message","status"}}`

use serde_json::{Value, json};

use super::format::Family;

/// What went wrong, independent of the format it is reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or unsupported request (400).
    InvalidRequest,
    /// No key, or an unknown one (401).
    Authentication,
    /// The key may not do this (403).
    PermissionDenied,
    /// Unknown model or path (404).
    NotFound,
    /// Body over the limit (413; Gemini says 400).
    RequestTooLarge,
    /// Too many requests (429).
    RateLimited,
    /// The balance cannot pay for the request (OpenAI and Gemini 429, Anthropic 402).
    InsufficientQuota,
    /// The gateway or the upstream is saturated (Anthropic 529, others 503).
    Overloaded,
    /// No channel can serve the request (503; Anthropic 529).
    Unavailable,
    /// The upstream took too long (504).
    Timeout,
    /// The upstream or the gateway failed (500).
    Internal,
}

/// An error to answer, in any format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The category, which decides the status and type names.
    pub kind: ErrorKind,
    /// Human-readable explanation.
    pub message: String,
    /// OpenAI's `code` (for example `model_not_found`); other formats ignore it.
    pub code: Option<String>,
    /// OpenAI's `param`; other formats ignore it.
    pub param: Option<String>,
    /// The HTTP status, when it must differ from the kind's default (an upstream's own).
    pub status: Option<u16>,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
            code: None,
            param: None,
            status: None,
        }
    }

    /// With OpenAI's `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// With OpenAI's `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The HTTP status this error is answered with in `family`.
    pub fn status(&self, family: Family) -> u16 {
        if let Some(status) = self.status {
            return status;
        }
        match (self.kind, family) {
            (ErrorKind::InvalidRequest, _) => 400,
            (ErrorKind::Authentication, _) => 401,
            (ErrorKind::PermissionDenied, _) => 403,
            (ErrorKind::NotFound, _) => 404,
            (ErrorKind::RequestTooLarge, Family::Gemini) => 400,
            (ErrorKind::RequestTooLarge, _) => 413,
            (ErrorKind::RateLimited, _) => 429,
            (ErrorKind::InsufficientQuota, Family::Anthropic) => 402,
            (ErrorKind::InsufficientQuota, _) => 429,
            (ErrorKind::Overloaded | ErrorKind::Unavailable, Family::Anthropic) => 529,
            (ErrorKind::Overloaded | ErrorKind::Unavailable, _) => 503,
            (ErrorKind::Timeout, _) => 504,
            (ErrorKind::Internal, _) => 500,
        }
    }

    /// The status and JSON body for a client of `family`.
    pub fn render(&self, family: Family) -> (u16, Vec<u8>) {
        let status = self.status(family);
        let body = match family {
            Family::OpenAi => json!({"error": {
                "message": self.message,
                "type": self.openai_type(),
                "param": self.param,
                "code": self.code,
            }}),
            Family::Anthropic => json!({
                "type": "error",
                "error": {"type": self.anthropic_type(), "message": self.message},
            }),
            Family::Gemini => json!({"error": {
                "code": status,
                "message": self.message,
                "status": self.gemini_status(),
            }}),
        };
        (status, body.to_string().into_bytes())
    }

    fn openai_type(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::RequestTooLarge
            | ErrorKind::Authentication
            | ErrorKind::PermissionDenied => "invalid_request_error",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::InsufficientQuota => "insufficient_quota",
            ErrorKind::Overloaded | ErrorKind::Unavailable | ErrorKind::Timeout => "server_error",
            ErrorKind::Internal => "api_error",
        }
    }

    fn anthropic_type(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimited => "rate_limit_error",
            ErrorKind::InsufficientQuota => "billing_error",
            ErrorKind::Overloaded | ErrorKind::Unavailable => "overloaded_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Internal => "api_error",
        }
    }

    fn gemini_status(&self) -> &'static str {
        match self.kind {
            ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "INVALID_ARGUMENT",
            ErrorKind::Authentication => "UNAUTHENTICATED",
            ErrorKind::PermissionDenied => "PERMISSION_DENIED",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::RateLimited | ErrorKind::InsufficientQuota => "RESOURCE_EXHAUSTED",
            ErrorKind::Overloaded | ErrorKind::Unavailable => "UNAVAILABLE",
            ErrorKind::Timeout => "DEADLINE_EXCEEDED",
            ErrorKind::Internal => "INTERNAL",
        }
    }
}

/// The kind an HTTP status stands for.
pub fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Authentication,
        402 => ErrorKind::InsufficientQuota,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::RequestTooLarge,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        504 => ErrorKind::Timeout,
        400..=499 => ErrorKind::InvalidRequest,
        _ => ErrorKind::Internal,
    }
}

/// Reads an upstream's error answer, whatever its provider: the three shapes above, Gemini's
/// array-wrapped variant (`[{"error":...}]`), Bedrock's `{"message": ...}`, or plain text.
/// The upstream's status is kept so the client sees it unchanged.
pub fn parse_upstream_error(status: u16, body: &[u8]) -> ApiError {
    let mut kind = kind_of_status(status);
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let error = value.get("error").unwrap_or(&value);
    let message = error
        .get("message")
        .or_else(|| value.get("message"))
        .or_else(|| value.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                format!("upstream answered HTTP {status}")
            } else {
                text.chars().take(1000).collect()
            }
        });
    let type_name = error
        .get("type")
        .or_else(|| error.get("status"))
        .and_then(Value::as_str);
    if let Some(named) = type_name.and_then(kind_of_name) {
        kind = named;
    }
    let code = match error.get("code") {
        Some(Value::String(code)) => Some(code.clone()),
        _ => None,
    };
    ApiError {
        kind,
        message,
        code,
        param: None,
        status: Some(status),
    }
}

/// The kind a provider's error type or status name stands for.
fn kind_of_name(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "invalid_request_error" | "INVALID_ARGUMENT" | "FAILED_PRECONDITION" => {
            ErrorKind::InvalidRequest
        }
        "authentication_error" | "UNAUTHENTICATED" => ErrorKind::Authentication,
        "permission_error" | "PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "not_found_error" | "NOT_FOUND" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::RequestTooLarge,
        "rate_limit_error" | "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "insufficient_quota" | "billing_error" => ErrorKind::InsufficientQuota,
        "overloaded_error" | "UNAVAILABLE" => ErrorKind::Overloaded,
        "timeout_error" | "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        "api_error" | "server_error" | "INTERNAL" => ErrorKind::Internal,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(error: &ApiError, family: Family) -> (u16, Value) {
        let (status, body) = error.render(family);
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn openai_shape() {
        let error = ApiError::new(ErrorKind::NotFound, "The model `x` does not exist")
            .with_code("model_not_found")
            .with_param("model");
        let (status, body) = rendered(&error, Family::OpenAi);
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": {"message": "The model `x` does not exist",
                "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
        );
        let (status, body) = rendered(
            &ApiError::new(ErrorKind::Authentication, "bad key"),
            Family::OpenAi,
        );
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], Value::Null);
    }

    #[test]
    fn anthropic_types_and_statuses() {
        let cases = [
            (ErrorKind::InvalidRequest, 400, "invalid_request_error"),
            (ErrorKind::Authentication, 401, "authentication_error"),
            (ErrorKind::PermissionDenied, 403, "permission_error"),
            (ErrorKind::NotFound, 404, "not_found_error"),
            (ErrorKind::RequestTooLarge, 413, "request_too_large"),
            (ErrorKind::RateLimited, 429, "rate_limit_error"),
            (ErrorKind::Overloaded, 529, "overloaded_error"),
            (ErrorKind::Internal, 500, "api_error"),
        ];
        for (kind, expected_status, expected_type) in cases {
            let (status, body) = rendered(&ApiError::new(kind, "m"), Family::Anthropic);
            assert_eq!(status, expected_status, "{kind:?}");
            assert_eq!(
                body,
                json!({"type": "error", "error": {"type": expected_type, "message": "m"}})
            );
        }
    }

    #[test]
    fn gemini_statuses() {
        let cases = [
            (ErrorKind::InvalidRequest, 400, "INVALID_ARGUMENT"),
            (ErrorKind::Authentication, 401, "UNAUTHENTICATED"),
            (ErrorKind::PermissionDenied, 403, "PERMISSION_DENIED"),
            (ErrorKind::NotFound, 404, "NOT_FOUND"),
            (ErrorKind::RateLimited, 429, "RESOURCE_EXHAUSTED"),
            (ErrorKind::Unavailable, 503, "UNAVAILABLE"),
            (ErrorKind::Internal, 500, "INTERNAL"),
        ];
        for (kind, expected_status, expected) in cases {
            let (status, body) = rendered(&ApiError::new(kind, "m"), Family::Gemini);
            assert_eq!(status, expected_status);
            assert_eq!(
                body,
                json!({"error": {"code": expected_status, "message": "m", "status": expected}})
            );
        }
    }

    #[test]
    fn upstream_errors_of_every_provider_are_read() {
        let openai = br#"{"error":{"message":"Incorrect API key provided: sk-abc***","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        let error = parse_upstream_error(401, openai);
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        assert_eq!(error.code.as_deref(), Some("invalid_api_key"));
        assert_eq!(error.status(Family::Anthropic), 401);

        let anthropic = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011"}"#;
        let error = parse_upstream_error(529, anthropic);
        assert_eq!(
            (error.kind, error.message.as_str()),
            (ErrorKind::Overloaded, "Overloaded")
        );
        // Relayed to an OpenAI client, the upstream's status stays.
        assert_eq!(error.render(Family::OpenAi).0, 529);

        let gemini = br#"[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]"#;
        let error = parse_upstream_error(429, gemini);
        assert_eq!(error.kind, ErrorKind::RateLimited);
        assert!(error.message.starts_with("Resource has been exhausted"));

        let bedrock = br#"{"message":"The security token included in the request is invalid."}"#;
        let error = parse_upstream_error(403, bedrock);
        assert_eq!(error.kind, ErrorKind::PermissionDenied);
        assert_eq!(
            error.message,
            "The security token included in the request is invalid."
        );

        let html = parse_upstream_error(502, b"<html>Bad Gateway</html>");
        assert_eq!(
            (html.kind, html.message.as_str()),
            (ErrorKind::Internal, "<html>Bad Gateway</html>")
        );
        assert_eq!(
            parse_upstream_error(500, b"").message,
            "upstream answered HTTP 500"
        );
    }
}
