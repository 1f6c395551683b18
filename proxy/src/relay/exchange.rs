//! One attempt at one channel, driven with Pingora's `Connector`: send the request, read the
//! answer, and — only once it is known to be good — relay it to the client chunk by chunk.
//! Everything that can fail before the first byte reaches the client (connect, 429, 5xx, a
//! stream's first token not arriving in time) is reported as retryable, so another channel can
//! take the request with nothing lost.

use super::body_chunks::BodyChunks;
use super::request::RelayRequest;
use super::snapshot::ChannelEntry;
use super::upstream::Target;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::protocols::ALPN;
use pingora::protocols::http::client::HttpSession;
use pingora::proxy::Session;
use pylon_shared::config::UpstreamHttp2;
use pylon_shared::pricing::Usage;
use pylon_shared::usage::{StreamFormat, StreamScanner, usage_from_json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest error body kept from a failed upstream answer.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest non-streamed answer kept whole to read its usage (it is forwarded either way).
pub(super) const USAGE_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Idle pooled upstream connections are kept this long.
const POOL_IDLE: Duration = Duration::from_secs(90);
/// Requests one HTTP/2 upstream connection carries at once (upstreams announce their own
/// limit, commonly 100 or more; the lower one applies).
const H2_STREAMS: usize = 100;
/// HTTP/2 receive windows: a stream may have this much unread before the upstream waits, and
/// all streams of a connection together the connection's (the protocol's default, 64 KiB,
/// would let a few fast answers stall every other stream of the connection).
const H2_STREAM_WINDOW: u32 = 256 * 1024;
const H2_CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;
/// Client request headers passed upstream.
const PASSED_HEADERS: &[&str] = &[
    "accept",
    "openai-beta",
    "user-agent",
    "anthropic-version",
    "anthropic-beta",
];
/// Upstream response headers not copied to the client.
const HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "proxy-connection",
    "upgrade",
];

/// Deadlines of one attempt. Each phase is enforced here with a timer around the whole phase
/// (Pingora's connector does not apply a peer's read timeout to the session it hands out), and
/// every phase is also cut at the whole request's deadline.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub response_header: Duration,
    pub first_token: Option<Duration>,
    pub idle: Duration,
    /// When the whole request (every attempt included) must be over.
    pub request_deadline: Instant,
}

impl Timeouts {
    /// `phase`, shortened to what is left of the whole request.
    fn bound(&self, phase: Duration) -> Duration {
        phase.min(
            self.request_deadline
                .saturating_duration_since(Instant::now()),
        )
    }

    /// Runs one phase within `phase` (and the request's deadline); `Err` names what expired.
    /// Not an `async fn`: one of those would hold `work` twice (as its argument and inside the
    /// timer), and a held stream keeps the whole relay future, sized by its largest phase.
    pub(super) fn within<'a, T>(
        &self,
        phase: Duration,
        what: &'a str,
        work: impl Future<Output = T> + 'a,
    ) -> impl Future<Output = Result<T, String>> + 'a {
        let limit = self.bound(phase);
        let timed = tokio::time::timeout(limit, work);
        async move {
            timed.await.map_err(|_| {
                if limit < phase {
                    format!("the request's deadline passed while waiting for {what}")
                } else {
                    format!("no {what} within {}s", phase.as_secs_f32())
                }
            })
        }
    }
}

/// Why an upstream's body stopped before its end.
pub(super) struct Cut {
    pub message: String,
    /// A deadline fired (the upstream did not fail: the relay stopped waiting).
    pub expired: bool,
}

/// Everything one attempt needs.
pub struct Attempt<'a> {
    pub channel: &'a ChannelEntry,
    pub addr: SocketAddr,
    pub request: &'a RelayRequest,
    /// Where and what to send (path with prefix, `key=` removed; headers; body).
    pub target: Target<'a>,
    pub timeouts: Timeouts,
    /// Which HTTP version to speak to the upstream.
    pub http2: UpstreamHttp2,
}

/// Why an attempt failed before anything reached the client.
#[derive(Debug)]
pub struct Failure {
    /// The upstream's status, when it answered.
    pub status: Option<u16>,
    pub message: String,
    /// From a 429's `Retry-After`.
    pub retry_after: Option<Duration>,
}

/// What reached the client.
#[derive(Debug, Default)]
pub struct Delivery {
    pub status: u16,
    /// The upstream's own usage numbers, when it sent them.
    pub usage: Option<Usage>,
    /// Content events relayed (to estimate completion tokens without usage).
    pub content_events: u64,
    /// Time from the start of the attempt to the first body byte.
    pub first_byte: Option<Duration>,
    /// The answer ended normally (not cut by the client or the upstream).
    pub complete: bool,
    /// The client went away during the answer.
    pub client_gone: bool,
    /// What the client has not been sent yet: a complete answer's last chunk. [`end`] sends it
    /// and ends the response, after the relay has settled the charge, so that a client that
    /// saw its answer end never finds the reservation still held.
    pub tail: Option<Bytes>,
    /// The answer was sent with a length it can no longer reach (a non-streamed answer cut by
    /// the upstream): [`end`] closes the client's connection instead of ending the body.
    pub cut: bool,
    /// Why the upstream's answer ended early (a deadline or the upstream's failure).
    pub upstream_error: Option<String>,
    /// The upstream failed before anything reached the client (set by the formats layer,
    /// which reads a converted answer whole first): the attempt is a failure, not a delivery.
    pub retry: Option<String>,
}

/// The result of one attempt.
pub enum Outcome {
    /// Something reached the client; the request is finished.
    Delivered(Delivery),
    /// Nothing reached the client; another channel may try.
    Failed(Failure),
}

fn failed(status: Option<u16>, message: impl Into<String>) -> Outcome {
    Outcome::Failed(Failure {
        status,
        message: message.into(),
        retry_after: None,
    })
}

/// Runs one attempt.
pub async fn run(connector: &Connector, attempt: Attempt<'_>, client: &mut Session) -> Outcome {
    let started = Instant::now();
    let upstream = &attempt.target.upstream;
    let mut peer = HttpPeer::new(attempt.addr, upstream.tls, upstream.host.clone());
    let timeouts = attempt.timeouts;
    peer.options.connection_timeout = Some(timeouts.connect);
    peer.options.total_connection_timeout = Some(timeouts.connect);
    peer.options.idle_timeout = Some(POOL_IDLE);
    offer_http2(&mut peer, attempt.http2);

    let connected = timeouts
        .within(
            timeouts.connect,
            "connection",
            // Boxed: Pingora's connect future (about 9 KiB) would otherwise size the state of
            // every relayed request for its whole life, streams included.
            Box::pin(connector.get_http_session(&peer)),
        )
        .await;
    let upstream_session = match connected {
        Ok(Ok((session, _reused))) => session,
        Err(expired) => {
            return failed(
                None,
                format!(
                    "connect to channel #{} failed: {expired}",
                    attempt.channel.id
                ),
            );
        }
        Ok(Err(error)) => {
            return failed(
                None,
                format!("connect to channel #{} failed: {error}", attempt.channel.id),
            );
        }
    };
    let header = match request_header(&attempt, client.req_header()) {
        Ok(header) => header,
        Err(error) => {
            return failed(
                None,
                format!("building the upstream request failed: {error}"),
            );
        }
    };
    let (body, to) = (&attempt.target.body, &peer);
    let sent = async move {
        let (mut session, written) =
            super::request_write::send(upstream_session, header, body, to).await;
        let answered = match written {
            Ok(()) => session.read_response_header().await,
            Err(error) => Err(error),
        };
        (session, answered)
    };
    // A deadline drops the session, and with it the connection.
    let mut upstream_session = match timeouts
        .within(timeouts.response_header, "response header", sent)
        .await
    {
        Ok((session, Ok(()))) => session,
        Ok((mut session, Err(error))) => {
            session.shutdown().await;
            return failed(
                None,
                format!("channel #{} did not answer: {error}", attempt.channel.id),
            );
        }
        Err(expired) => {
            return failed(
                None,
                format!("channel #{} did not answer: {expired}", attempt.channel.id),
            );
        }
    };
    let Some(response) = upstream_session.response_header().cloned() else {
        upstream_session.shutdown().await;
        return failed(None, "upstream sent no response header");
    };
    let status = response.status.as_u16();
    if status == 429 || status >= 500 || status == 401 || status == 403 {
        let retry_after = response
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = read_limited(&mut upstream_session, ERROR_BODY_LIMIT, &timeouts).await;
        upstream_session.shutdown().await;
        return Outcome::Failed(Failure {
            status: Some(status),
            message: upstream_error_message(status, &body),
            retry_after,
        });
    }

    // A stream must show its first chunk before we commit to this channel.
    let streaming = attempt.target.stream && (200..300).contains(&status);
    let mut first_chunk = None;
    if streaming {
        let limit = timeouts.first_token.unwrap_or(timeouts.idle);
        let first = match timeouts
            .within(limit, "first token", upstream_session.read_response_body())
            .await
        {
            Ok(read) => read.map_err(|error| error.to_string()),
            Err(expired) => Err(expired),
        };
        match first {
            Ok(chunk) => first_chunk = Some(chunk),
            Err(error) => {
                upstream_session.shutdown().await;
                return failed(
                    Some(status),
                    format!(
                        "no first token from channel #{}: {error}",
                        attempt.channel.id
                    ),
                );
            }
        }
    }
    relay_answer(
        connector,
        &peer,
        upstream_session,
        response,
        first_chunk,
        &attempt,
        client,
        started,
    )
    .await
}

/// Sets which HTTP versions the connection to `peer` offers (ALPN over TLS; prior knowledge
/// for a plain-text HTTP/2 upstream) and how an HTTP/2 connection is shared.
fn offer_http2(peer: &mut HttpPeer, mode: UpstreamHttp2) {
    peer.options.alpn = match mode {
        UpstreamHttp2::Off => ALPN::H1,
        UpstreamHttp2::Negotiate if peer.is_tls() => ALPN::H2H1,
        UpstreamHttp2::Negotiate => ALPN::H1,
        UpstreamHttp2::PriorKnowledge if peer.is_tls() => ALPN::H2H1,
        UpstreamHttp2::PriorKnowledge => ALPN::H2,
    };
    peer.options.max_h2_streams = H2_STREAMS;
    peer.options.h2_stream_window_size = Some(H2_STREAM_WINDOW);
    peer.options.h2_connection_window_size = Some(H2_CONNECTION_WINDOW);
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn relay_answer(
    connector: &Connector,
    peer: &HttpPeer,
    mut upstream: HttpSession,
    response: ResponseHeader,
    first_chunk: Option<Option<Bytes>>,
    attempt: &Attempt<'_>,
    client: &mut Session,
    started: Instant,
) -> Outcome {
    let status = response.status.as_u16();
    let streaming = attempt.target.stream && (200..300).contains(&status);
    if let Some(shape) = &attempt.target.shape {
        let mut delivery = super::translated::relay(
            &mut upstream,
            &response,
            first_chunk,
            shape,
            streaming,
            client,
            started,
            &attempt.timeouts,
        )
        .await;
        if let Some(message) = delivery.retry.take() {
            upstream.shutdown().await;
            return failed(
                Some(status),
                format!(
                    "channel #{} failed mid-answer: {message}",
                    attempt.channel.id
                ),
            );
        }
        return end_answer(connector, peer, upstream, delivery).await;
    }
    let mut delivery = Delivery {
        status,
        ..Delivery::default()
    };
    let Ok(header) = client_header(&response, streaming) else {
        upstream.shutdown().await;
        return failed(Some(status), "upstream sent an unusable response header");
    };
    if client
        .write_response_header(Box::new(header), false)
        .await
        .is_err()
    {
        upstream.shutdown().await;
        delivery.client_gone = true;
        return Outcome::Delivered(delivery);
    }

    let mut scanner = streaming.then(|| {
        StreamScanner::new(
            attempt.request.endpoint.stream_format(),
            attempt.request.injects_usage(),
        )
    });
    let mut kept: Vec<Bytes> = Vec::new();
    let mut kept_len = 0usize;
    let mut pending = first_chunk;
    let mut expired = false;
    let mut body = BodyChunks::new(&attempt.timeouts);
    loop {
        let next = match pending.take() {
            Some(chunk) => Ok(chunk),
            None => body.next(&mut upstream).await,
        };
        let chunk = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                delivery.complete = true;
                break;
            }
            Err(cut) => {
                tracing::warn!(error = %cut.message, channel = attempt.channel.id, "upstream ended mid-answer");
                expired = cut.expired;
                delivery.upstream_error = Some(cut.message);
                break;
            }
        };
        if delivery.first_byte.is_none() {
            delivery.first_byte = Some(started.elapsed());
        }
        let forward = match scanner.as_mut() {
            Some(scanner) => scanner.feed(chunk),
            None => {
                if kept_len + chunk.len() <= USAGE_BODY_LIMIT {
                    kept_len += chunk.len();
                    kept.push(chunk.clone());
                }
                // One chunk behind: the last one is sent by `end`.
                match delivery.tail.replace(chunk) {
                    Some(previous) => previous,
                    None => continue,
                }
            }
        };
        if !forward.is_empty()
            && client
                .write_response_body(Some(forward), false)
                .await
                .is_err()
        {
            delivery.client_gone = true;
            break;
        }
    }
    if let Some(scanner) = scanner.as_mut() {
        let mut rest = scanner.finish();
        if expired && !scanner.saw_terminal_event() {
            // A deadline stopped the stream: it still ends in the client's format (a stream
            // the upstream itself broke is left without its end marker, so the client can
            // tell it was cut).
            rest = [rest, closing(attempt.request.endpoint.stream_format())]
                .concat()
                .into();
        }
        if !delivery.client_gone
            && !rest.is_empty()
            && client.write_response_body(Some(rest), false).await.is_err()
        {
            delivery.client_gone = true;
        }
        delivery.usage = scanner.usage();
        delivery.content_events = scanner.content_events();
    } else if delivery.complete && kept_len < USAGE_BODY_LIMIT {
        let body: Vec<u8> = kept.concat();
        delivery.usage = usage_from_json(attempt.request.endpoint.body_format(), &body);
    } else if !delivery.complete {
        // A non-streamed answer sent with the upstream's length cannot be completed.
        delivery.cut = true;
    }
    end_answer(connector, peer, upstream, delivery).await
}

/// The events that end a stream of `format` cleanly when its upstream stopped early.
fn closing(format: StreamFormat) -> Bytes {
    match format {
        StreamFormat::OpenAiChat | StreamFormat::OpenAiCompletions => {
            Bytes::from_static(b"data: [DONE]\n\n")
        }
        StreamFormat::Anthropic => {
            Bytes::from_static(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
        }
        StreamFormat::OpenAiResponses | StreamFormat::Gemini => Bytes::new(),
    }
}

/// Sends what the attempt held back and ends the client's response. A cut answer (sent with a
/// length it never reached) closes the client's connection instead: the client sees it end
/// early rather than waiting for bytes that will never come.
pub async fn end(client: &mut Session, delivery: &mut Delivery) {
    if delivery.client_gone {
        return;
    }
    if let Some(tail) = delivery.tail.take()
        && client.write_response_body(Some(tail), false).await.is_err()
    {
        delivery.client_gone = true;
        return;
    }
    if delivery.cut {
        client.set_keepalive(None);
        client.shutdown().await;
        return;
    }
    if client.write_response_body(None, true).await.is_err() {
        delivery.client_gone = true;
    }
}

/// The end of an answer relayed through the formats layer: the upstream connection is pooled
/// when it ended cleanly (the client's response is ended by [`end`], after settlement).
async fn end_answer(
    connector: &Connector,
    peer: &HttpPeer,
    mut upstream: HttpSession,
    mut delivery: Delivery,
) -> Outcome {
    if delivery.client_gone {
        delivery.tail = None;
    }
    if delivery.complete && upstream.response_done() {
        // Boxed: the pool's future (about 3 KiB) would otherwise size every relayed request's
        // state for its whole life.
        Box::pin(connector.release_http_session(upstream, peer, Some(POOL_IDLE))).await;
    } else {
        upstream.shutdown().await;
    }
    Outcome::Delivered(delivery)
}

fn request_header(attempt: &Attempt<'_>, client: &RequestHeader) -> pingora::Result<RequestHeader> {
    let target = &attempt.target;
    let mut header = RequestHeader::build("POST", target.path.as_bytes(), None)?;
    let upstream = &target.upstream;
    let default_port = if upstream.tls { 443 } else { 80 };
    let host = if upstream.port == default_port {
        upstream.host.clone()
    } else {
        format!("{}:{}", upstream.host, upstream.port)
    };
    header.insert_header("Host", host)?;
    for (name, value) in &target.headers {
        header.insert_header(name.clone(), value.as_str())?;
    }
    header.insert_header("Content-Length", target.body.len().to_string())?;
    for name in PASSED_HEADERS {
        if let Some(value) = client.headers.get(*name)
            && !header.headers.contains_key(*name)
        {
            header.insert_header(*name, value.clone())?;
        }
    }
    if target.shape.is_none() && !attempt.channel.openai_organization.is_empty() {
        header.insert_header(
            "OpenAI-Organization",
            attempt.channel.openai_organization.clone(),
        )?;
    }
    for (name, value) in &attempt.channel.header_override {
        header.insert_header(name.clone(), value.clone())?;
    }
    Ok(header)
}

/// The client's response header: the upstream's, minus hop-by-hop headers. Streams are sent
/// chunked (their length may change when the usage chunk is stripped).
pub(super) fn client_header(
    upstream: &ResponseHeader,
    streaming: bool,
) -> pingora::Result<ResponseHeader> {
    let mut header = ResponseHeader::build(upstream.status, Some(upstream.headers.len()))?;
    for (name, value) in &upstream.headers {
        let lower = name.as_str();
        if HOP_HEADERS.contains(&lower) && (streaming || lower != "content-length") {
            continue;
        }
        header.append_header(name.clone(), value.clone())?;
    }
    if streaming {
        header.insert_header("X-Accel-Buffering", "no")?;
        header.insert_header("Cache-Control", "no-cache")?;
    }
    Ok(header)
}

pub(super) async fn read_limited(
    session: &mut HttpSession,
    limit: usize,
    timeouts: &Timeouts,
) -> Vec<u8> {
    let mut body = Vec::new();
    let mut chunks = BodyChunks::new(timeouts);
    while let Ok(Some(chunk)) = chunks.next(session).await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

/// The message of an upstream error body (OpenAI's `error.message` when present).
fn upstream_error_message(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)])
                .trim()
                .to_string();
            if text.is_empty() {
                format!("upstream answered {status}")
            } else {
                text
            }
        })
}
