//! The mock's behaviour settings: what every request gets unless its `x-mock-*` headers say
//! otherwise (see `knobs.rs` for the per-request overrides).

/// Default body limit: tests send prompts of several MiB, and the proxy relays up to 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Behaviour of a [`super::MockUpstream`]. Build it with struct update syntax:
/// `MockConfig { chunks: 3, ..MockConfig::default() }`. Every field has a matching request
/// header that overrides it for one request (see the crate README).
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Answer with this status instead of 200 (`x-mock-status`). Statuses >= 400 carry an error
    /// body in the endpoint's provider format.
    pub status: Option<u16>,
    /// `Retry-After` value sent with an injected 429 (`x-mock-retry-after`).
    pub retry_after: Option<String>,
    /// Wait before sending the response head (`x-mock-delay-ms`).
    pub delay_ms: u64,
    /// Streams: wait after the head before the first event (`x-mock-ttft-ms`).
    pub ttft_ms: u64,
    /// Number of content chunks (one token each) in a stream, and of pieces in a JSON answer
    /// (`x-mock-chunks`).
    pub chunks: u32,
    /// Streams: time between content chunks (`x-mock-chunk-interval-ms`).
    pub chunk_interval_ms: u64,
    /// Pad the generated content to about this many bytes; 0 = one short word per chunk
    /// (`x-mock-response-bytes`).
    pub response_bytes: usize,
    /// Probability (0..=1) of answering 500 instead (`x-mock-error-rate`).
    pub error_rate: f64,
    /// Add a uniform random 0..=jitter ms to the delay and to every chunk deadline
    /// (`x-mock-jitter-ms`).
    pub jitter_ms: u64,
    /// Reported prompt/input tokens (`x-mock-usage: prompt,completion,cached`).
    pub prompt_tokens: u64,
    /// Reported completion/output tokens; `None` = the number of chunks.
    pub completion_tokens: Option<u64>,
    /// Reported cached prompt tokens.
    pub cached_tokens: u64,
    /// Streams: close the connection without the end of the stream after this many content
    /// chunks (`x-mock-abort-after-chunks`).
    pub abort_after_chunks: Option<u32>,
    /// Streams: never send usage, even when the request asks for it (`x-mock-no-usage`).
    pub no_usage: bool,
    /// Model ids listed by `GET /v1/models`.
    pub models: Vec<String>,
    /// Keep every request for [`super::MockUpstream::requests`]. Benchmarks turn it off so that
    /// memory stays flat.
    pub record: bool,
    /// Largest request body accepted; larger bodies get 413.
    pub max_body_bytes: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            status: None,
            retry_after: None,
            delay_ms: 0,
            ttft_ms: 0,
            chunks: 10,
            chunk_interval_ms: 0,
            response_bytes: 0,
            error_rate: 0.0,
            jitter_ms: 0,
            prompt_tokens: 10,
            completion_tokens: None,
            cached_tokens: 0,
            abort_after_chunks: None,
            no_usage: false,
            models: vec![
                "gpt-4o-mini".to_string(),
                "gpt-4o".to_string(),
                "text-embedding-3-small".to_string(),
                "claude-sonnet-4-5".to_string(),
                "gemini-2.5-flash".to_string(),
            ],
            record: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}
