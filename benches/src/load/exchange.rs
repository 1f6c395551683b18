//! One request and what it measured, on a shared client tuned so that the load client is not
//! the bottleneck: HTTP/1.1 only, `TCP_NODELAY`, a large idle pool, no proxy, no redirects, and
//! headers set once on the client so each request only clones the URL and the shared body.

use super::body::BodyFormat;
use super::config::LoadConfig;
use super::sse::SseProbe;
use super::stats::{ErrorKind, Outcome, Stats, Timings};
use anyhow::Context;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Url};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections kept per host: more than any run keeps in flight, so a connection is never
/// closed and reopened between requests.
const IDLE_POOL: usize = 65_536;

/// What every request of a run sends, and the client it goes through.
pub struct Target {
    client: Client,
    url: Url,
    body: Bytes,
    stream: bool,
    timeout: Duration,
}

/// One finished request: its outcome and, for a successful stream, the gaps between content
/// chunks (empty otherwise, and then never allocated).
#[derive(Debug)]
pub struct Exchange {
    pub outcome: Outcome,
    pub gaps: Vec<Duration>,
}

impl Exchange {
    /// A request that failed with `kind`.
    pub fn failed(kind: ErrorKind) -> Self {
        Self {
            outcome: Outcome::Failed(kind),
            gaps: Vec::new(),
        }
    }

    /// Adds this request to `stats`.
    pub fn record_into(&self, stats: &Mutex<Stats>) {
        let mut stats = stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stats.record(self.outcome);
        for gap in &self.gaps {
            stats.record_gap(*gap);
        }
    }
}

impl Target {
    /// The client and request body for `config`.
    pub fn new(config: &LoadConfig) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = &config.key {
            headers.insert(
                AUTHORIZATION,
                HeaderValue::try_from(format!("Bearer {key}")).context("--key: invalid value")?,
            );
        }
        if config.format == BodyFormat::Anthropic {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static("2023-06-01"),
            );
        }
        for (name, value) in &config.headers {
            headers.insert(
                HeaderName::try_from(name.as_str())
                    .with_context(|| format!("--header: invalid name {name:?}"))?,
                HeaderValue::try_from(value.as_str())
                    .with_context(|| format!("--header: invalid value for {name}"))?,
            );
        }
        let client = Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(IDLE_POOL)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .default_headers(headers)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            url: config.url.clone(),
            body: super::body::request_body(
                config.format,
                &config.model,
                config.stream,
                config.body_bytes,
            )?,
            stream: config.stream,
            timeout: config.timeout,
        })
    }

    /// The whole-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one request now and reads the answer to its end.
    pub async fn exchange(&self) -> Exchange {
        self.exchange_from(Instant::now()).await
    }

    /// The same, with times measured from `sent`: when the open loop released the request, so
    /// that time spent waiting to be sent is part of its latency.
    pub async fn exchange_from(&self, sent: Instant) -> Exchange {
        let request = self.client.post(self.url.clone()).body(self.body.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Exchange::failed(classify(&error)),
        };
        let head = sent.elapsed();
        let status = response.status();
        let mut probe = (self.stream && status.is_success()).then(SseProbe::new);
        let mut gaps = Vec::new();
        let mut ttfb = None;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let at = sent.elapsed();
                    if ttfb.is_none() && !chunk.is_empty() {
                        ttfb = Some(at);
                    }
                    if let Some(probe) = probe.as_mut() {
                        probe.feed(&chunk, at, &mut |gap| gaps.push(gap));
                    }
                }
                Ok(None) => break,
                // An error answer that breaks off is still counted by its status.
                Err(_) if !status.is_success() => break,
                Err(error) => {
                    return Exchange::failed(match classify(&error) {
                        ErrorKind::Other => ErrorKind::Body,
                        kind => kind,
                    });
                }
            }
        }
        let latency = sent.elapsed();
        if !status.is_success() {
            return Exchange::failed(ErrorKind::of_status(status.as_u16()));
        }
        let (ttft, content_chunks) = match &probe {
            Some(probe) if !probe.saw_done() => return Exchange::failed(ErrorKind::Body),
            Some(probe) => (probe.first_token(), Some(probe.content_chunks())),
            None => (None, None),
        };
        Exchange {
            outcome: Outcome::Ok(Timings {
                latency,
                ttfb: ttfb.unwrap_or(head),
                ttft,
                content_chunks,
            }),
            gaps,
        }
    }
}

fn classify(error: &reqwest::Error) -> ErrorKind {
    if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_connect() {
        ErrorKind::Connect
    } else if error.is_body() || error.is_decode() {
        ErrorKind::Body
    } else if let Some(status) = error.status() {
        ErrorKind::of_status(status.as_u16())
    } else {
        ErrorKind::Other
    }
}
