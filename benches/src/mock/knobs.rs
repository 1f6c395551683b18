//! Per-request behaviour: the configured defaults overridden by the request's `x-mock-*`
//! headers, so one running mock serves many scenarios.

use super::config::MockConfig;
use super::http::Request;
use std::str::FromStr;
use std::time::Duration;

/// Token counts the mock reports, in each provider's own fields. Signed, so a test can make
/// the mock report absurd (negative or huge) usage with `x-mock-usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub prompt: i64,
    pub completion: i64,
    pub cached: i64,
}

impl Usage {
    pub(crate) fn total(&self) -> i64 {
        self.prompt.saturating_add(self.completion)
    }
}

/// Everything that shapes one answer, resolved once per request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Knobs {
    pub status: Option<u16>,
    pub retry_after: Option<String>,
    pub delay: Duration,
    pub ttft: Duration,
    pub chunks: u32,
    pub interval: Duration,
    pub response_bytes: usize,
    pub error_rate: f64,
    pub jitter_ms: u64,
    pub usage: Usage,
    pub abort_after: Option<u32>,
    /// A complete (non-streamed) answer is cut after this many body bytes: its head announces
    /// the full length, then the connection closes (after `stall_body`).
    pub cut_body: Option<usize>,
    /// How long a cut answer stays silent before its connection closes.
    pub stall_body: Duration,
    pub no_usage: bool,
    /// The request's completion limit cut the answer short (finish reason "length").
    pub truncated: bool,
}

impl Knobs {
    /// Applies the request's `x-mock-*` headers on top of `config`. A header that does not parse
    /// is an error (a typo in a test must not silently fall back to the default).
    pub(crate) fn resolve(config: &MockConfig, req: &Request) -> Result<Self, String> {
        let completion = config.completion_tokens;
        let mut knobs = Self {
            status: config.status,
            retry_after: config.retry_after.clone(),
            delay: Duration::from_millis(config.delay_ms),
            ttft: Duration::from_millis(config.ttft_ms),
            chunks: config.chunks,
            interval: Duration::from_millis(config.chunk_interval_ms),
            response_bytes: config.response_bytes,
            error_rate: config.error_rate,
            jitter_ms: config.jitter_ms,
            usage: Usage {
                prompt: signed(config.prompt_tokens),
                completion: 0,
                cached: signed(config.cached_tokens),
            },
            abort_after: config.abort_after_chunks,
            cut_body: None,
            stall_body: Duration::ZERO,
            no_usage: config.no_usage,
            truncated: false,
        };
        let mut completion = completion.map(signed);
        for (name, value) in &req.headers {
            let Some(knob) = name.strip_prefix("x-mock-") else {
                continue;
            };
            let value = value.trim();
            match knob {
                "status" => knobs.status = Some(number(name, value)?),
                "retry-after" => knobs.retry_after = Some(value.to_string()),
                "delay-ms" => knobs.delay = millis(name, value)?,
                "ttft-ms" => knobs.ttft = millis(name, value)?,
                "chunks" => knobs.chunks = number(name, value)?,
                "chunk-interval-ms" => knobs.interval = millis(name, value)?,
                "response-bytes" => knobs.response_bytes = number(name, value)?,
                "error-rate" => knobs.error_rate = number(name, value)?,
                "jitter-ms" => knobs.jitter_ms = number(name, value)?,
                "abort-after-chunks" => knobs.abort_after = Some(number(name, value)?),
                "cut-body-bytes" => knobs.cut_body = Some(number(name, value)?),
                "stall-body-ms" => knobs.stall_body = millis(name, value)?,
                "no-usage" => knobs.no_usage = flag(name, value)?,
                "usage" => {
                    let mut parts = value.split(',').map(str::trim);
                    if let Some(p) = parts.next().filter(|p| !p.is_empty()) {
                        knobs.usage.prompt = number(name, p)?;
                    }
                    if let Some(c) = parts.next().filter(|c| !c.is_empty()) {
                        completion = Some(number(name, c)?);
                    }
                    if let Some(k) = parts.next().filter(|k| !k.is_empty()) {
                        knobs.usage.cached = number(name, k)?;
                    }
                }
                _ => return Err(format!("unknown mock header {name}")),
            }
        }
        if !(0.0..=1.0).contains(&knobs.error_rate) {
            return Err("x-mock-error-rate must be between 0 and 1".to_string());
        }
        knobs.usage.completion = completion.unwrap_or(i64::from(knobs.chunks));
        Ok(knobs)
    }

    /// Honours the request's completion limit (`max_tokens`, `max_completion_tokens`,
    /// `max_output_tokens`, Gemini's `generationConfig.maxOutputTokens`; the lowest wins): at
    /// most that many content chunks and completion tokens, and the answer is marked truncated.
    pub(crate) fn limit_completion(&mut self, body: Option<&serde_json::Value>) {
        let Some(body) = body else { return };
        let limit = [
            "/max_tokens",
            "/max_completion_tokens",
            "/max_output_tokens",
            "/generationConfig/maxOutputTokens",
        ]
        .iter()
        .filter_map(|pointer| body.pointer(pointer).and_then(serde_json::Value::as_i64))
        .filter(|limit| *limit > 0)
        .min();
        let Some(limit) = limit else { return };
        if limit < i64::from(self.chunks) {
            self.chunks = u32::try_from(limit).unwrap_or(u32::MAX);
            self.truncated = true;
        }
        if limit < self.usage.completion {
            self.usage.completion = limit;
            self.truncated = true;
        }
    }

    /// Bytes of content per chunk when padding is on (0 = use short words).
    pub(crate) fn chunk_bytes(&self) -> usize {
        if self.response_bytes == 0 {
            0
        } else {
            self.response_bytes.div_ceil(self.chunks.max(1) as usize)
        }
    }
}

fn number<T: FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{name}: {value:?} is not a valid number"))
}

fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn millis(name: &str, value: &str) -> Result<Duration, String> {
    number(name, value).map(Duration::from_millis)
}

fn flag(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("{name}: {value:?} is not a boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
            keep_alive: true,
            version: "HTTP/1.1",
        }
    }

    #[test]
    fn defaults_come_from_config() {
        let knobs = Knobs::resolve(&MockConfig::default(), &request(&[])).unwrap();
        assert_eq!(knobs.chunks, 10);
        assert_eq!(
            knobs.usage,
            Usage {
                prompt: 10,
                completion: 10,
                cached: 0
            }
        );
        assert_eq!(knobs.chunk_bytes(), 0);
    }

    #[test]
    fn headers_override() {
        let req = request(&[
            ("x-mock-chunks", "4"),
            ("x-mock-usage", "100,,7"),
            ("x-mock-no-usage", ""),
            ("x-mock-response-bytes", "10"),
            ("x-mock-status", "429"),
            ("x-mock-retry-after", "3"),
        ]);
        let knobs = Knobs::resolve(&MockConfig::default(), &req).unwrap();
        assert_eq!(knobs.chunks, 4);
        assert_eq!(knobs.usage.prompt, 100);
        assert_eq!(knobs.usage.completion, 4, "completion defaults to chunks");
        assert_eq!(knobs.usage.cached, 7);
        assert!(knobs.no_usage);
        assert_eq!(knobs.chunk_bytes(), 3);
        assert_eq!(knobs.status, Some(429));
        assert_eq!(knobs.retry_after.as_deref(), Some("3"));
        let absurd = request(&[("x-mock-usage", "9223372036854775807,-5")]);
        let knobs = Knobs::resolve(&MockConfig::default(), &absurd).unwrap();
        assert_eq!((knobs.usage.prompt, knobs.usage.completion), (i64::MAX, -5));
    }

    #[test]
    fn the_completion_limit_cuts_the_answer() {
        let mut knobs = Knobs::resolve(&MockConfig::default(), &request(&[])).unwrap();
        knobs.limit_completion(Some(&serde_json::json!({"max_tokens": 4})));
        assert_eq!((knobs.chunks, knobs.usage.completion), (4, 4));
        assert!(knobs.truncated);
        let mut knobs = Knobs::resolve(&MockConfig::default(), &request(&[])).unwrap();
        knobs.limit_completion(Some(&serde_json::json!({"max_completion_tokens": 400})));
        assert!(!knobs.truncated, "a limit above the answer changes nothing");
    }

    #[test]
    fn bad_values_are_errors() {
        for (name, value) in [
            ("x-mock-chunks", "many"),
            ("x-mock-error-rate", "2"),
            ("x-mock-bogus", "1"),
            ("x-mock-no-usage", "perhaps"),
        ] {
            let req = request(&[(name, value)]);
            assert!(
                Knobs::resolve(&MockConfig::default(), &req).is_err(),
                "{name}"
            );
        }
    }
}
