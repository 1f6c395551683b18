//! Errors answered by the relay, in the client's family: OpenAI's
//! `{"error": {message, type, param, code}}` (as always), or Anthropic's and Gemini's shapes
//! through the formats layer's [`ApiError::render`].

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pylon_shared::llm::{ApiError, ErrorKind, Family};

/// A refusal or failure to report to the client.
#[derive(Debug, Clone)]
pub struct RelayError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
    /// A request limit reached: its size and when it frees (the `x-ratelimit-*` headers).
    pub rate_limit: Option<(LimitUnit, u64, std::time::Duration)>,
}

impl RelayError {
    fn new(
        status: u16,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            kind,
            code,
            retry_after: None,
            rate_limit: None,
        }
    }

    /// A rate limit reached (429): of requests or of tokens, its size, and when to retry.
    pub fn rate_limited(
        message: impl Into<String>,
        unit: LimitUnit,
        limit: u64,
        retry_after: std::time::Duration,
    ) -> Self {
        let seconds = u32::try_from(retry_after.as_secs()).unwrap_or(u32::MAX);
        Self {
            retry_after: Some(seconds.max(1)),
            rate_limit: Some((unit, limit, retry_after)),
            ..Self::new(
                429,
                "rate_limit_error",
                Some("rate_limit_exceeded"),
                message,
            )
        }
    }

    /// No key, or an unknown one.
    pub fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
            message,
        )
    }

    /// The key or its user may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(
            403,
            "invalid_request_error",
            Some("permission_denied"),
            message,
        )
    }

    /// Balance too low.
    pub fn insufficient_quota(message: impl Into<String>) -> Self {
        Self::new(
            429,
            "insufficient_quota",
            Some("insufficient_quota"),
            message,
        )
    }

    /// Malformed or incomplete request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", None, message)
    }

    /// Body over the configured limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "invalid_request_error",
            Some("request_too_large"),
            format!("Request body is larger than the limit of {limit} bytes"),
        )
    }

    /// Unknown model, or one with no channel for the caller's group.
    pub fn model_not_found(message: impl Into<String>) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            Some("model_not_found"),
            message,
        )
    }

    /// No channel could serve the request.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "server_error", Some("service_unavailable"), message)
    }

    /// Billing cannot admit or record the request (Redis unreachable, or the database down or
    /// slower than the traffic): retry later.
    pub fn billing_behind() -> Self {
        Self {
            retry_after: Some(5),
            ..Self::new(
                503,
                "server_error",
                Some("billing_unavailable"),
                "Billing is unavailable right now, please retry shortly",
            )
        }
    }

    /// The proxy is saturated: retry shortly.
    pub fn overloaded() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                503,
                "server_error",
                Some("server_overloaded"),
                "The gateway is overloaded, please retry shortly",
            )
        }
    }

    /// The upstream failed and no other channel could take over.
    pub fn upstream(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, "upstream_error", Some("upstream_error"), message)
    }

    /// The JSON body.
    pub fn body(&self) -> Bytes {
        Bytes::from(
            serde_json::json!({
                "error": {
                    "message": self.message,
                    "type": self.kind,
                    "param": null,
                    "code": self.code,
                }
            })
            .to_string(),
        )
    }

    /// An error of the formats layer (a client's bad body, an unsupported pair), for OpenAI.
    pub fn from_api(error: &ApiError) -> Self {
        let status = error.status(Family::OpenAi);
        let (kind, code) = match error.kind {
            ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::RequestTooLarge
            | ErrorKind::Authentication => ("invalid_request_error", None),
            ErrorKind::InsufficientQuota => ("insufficient_quota", Some("insufficient_quota")),
            ErrorKind::RateLimited => ("rate_limit_error", None),
            _ => ("upstream_error", Some("upstream_error")),
        };
        Self::new(status, kind, code, error.message.clone())
    }

    /// The error in the formats layer's terms.
    pub fn api_error(&self) -> ApiError {
        let kind = match self.status {
            400 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 if self.kind == "insufficient_quota" => ErrorKind::InsufficientQuota,
            429 => ErrorKind::RateLimited,
            503 if self.code == Some("server_overloaded") => ErrorKind::Overloaded,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::Timeout,
            _ => ErrorKind::Internal,
        };
        let mut error = ApiError::new(kind, self.message.clone());
        if kind == ErrorKind::Internal {
            error.status = Some(self.status);
        }
        if let Some(code) = self.code {
            error = error.with_code(code);
        }
        error
    }

    /// Writes the error as the whole response, in OpenAI's format.
    pub async fn respond(&self, session: &mut Session) -> pingora::Result<()> {
        self.respond_in(Family::OpenAi, session).await
    }

    /// Writes the error as the whole response, in `family`'s format.
    pub async fn respond_in(&self, family: Family, session: &mut Session) -> pingora::Result<()> {
        let (status, body) = match family {
            Family::OpenAi => (self.status, self.body()),
            other => {
                let (status, body) = self.api_error().render(other);
                (status, Bytes::from(body))
            }
        };
        let mut header = json_header(status, body.len())?;
        if let Some(seconds) = self.retry_after {
            header.insert_header("Retry-After", seconds.to_string())?;
        }
        if let Some((unit, limit, reset)) = self.rate_limit {
            for (name, value) in rate_limit_headers(family, unit, limit, reset) {
                header.insert_header(name, value)?;
            }
        }
        write_response(session, header, body).await
    }
}

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    Requests,
    Tokens,
}

/// The headers that describe a reached limit, as the client's provider names them: OpenAI's
/// `x-ratelimit-*-requests` / `-tokens` (reset as a duration), Anthropic's
/// `anthropic-ratelimit-requests-*` / `-tokens-*` (reset as an RFC 3339 time); Gemini sends
/// none.
fn rate_limit_headers(
    family: Family,
    unit: LimitUnit,
    limit: u64,
    reset: std::time::Duration,
) -> Vec<(&'static str, String)> {
    let tokens = unit == LimitUnit::Tokens;
    match family {
        Family::Anthropic => {
            let at = std::time::SystemTime::now() + reset;
            let secs = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let reset = chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let [limit_name, remaining, reset_name] = if tokens {
                [
                    "anthropic-ratelimit-tokens-limit",
                    "anthropic-ratelimit-tokens-remaining",
                    "anthropic-ratelimit-tokens-reset",
                ]
            } else {
                [
                    "anthropic-ratelimit-requests-limit",
                    "anthropic-ratelimit-requests-remaining",
                    "anthropic-ratelimit-requests-reset",
                ]
            };
            vec![
                (limit_name, limit.to_string()),
                (remaining, "0".to_string()),
                (reset_name, reset),
            ]
        }
        Family::Gemini => Vec::new(),
        Family::OpenAi => {
            let [limit_name, remaining, reset_name] = if tokens {
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ]
            } else {
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ]
            };
            vec![
                (limit_name, limit.to_string()),
                (remaining, "0".to_string()),
                (reset_name, format!("{}s", reset.as_secs().max(1))),
            ]
        }
    }
}

/// Writes a complete JSON response.
pub async fn write_json(session: &mut Session, status: u16, body: Bytes) -> pingora::Result<()> {
    let header = json_header(status, body.len())?;
    write_response(session, header, body).await
}

fn json_header(status: u16, length: usize) -> pingora::Result<ResponseHeader> {
    let mut header = ResponseHeader::build(status, Some(3))?;
    header.insert_header("Content-Type", "application/json")?;
    header.insert_header("Content-Length", length.to_string())?;
    Ok(header)
}

async fn write_response(
    session: &mut Session,
    header: ResponseHeader,
    body: Bytes,
) -> pingora::Result<()> {
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session.write_response_body(Some(body), true).await?;
    Ok(())
}
