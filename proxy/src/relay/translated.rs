//! Answers relayed through the formats layer (every pair but OpenAI to an OpenAI-compatible
//! channel): streams transcoded chunk by chunk ([`Transcoder`], Bedrock's event stream unwrapped
//! first) and always ended with the client format's terminator; complete answers converted
//! whole ([`Plan::answer`]) or passed on while their usage is read; upstream errors rendered in
//! the client's family. The end of the body is written by the caller.

use super::body_chunks::BodyChunks;
use super::exchange::{Delivery, Timeouts, USAGE_BODY_LIMIT, client_header, read_limited};
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::proxy::Session;
use pylon_shared::llm::provider::bedrock::StreamAdapter;
use pylon_shared::llm::{ApiError, ApiFormat, ErrorKind, Ingress, Op, Plan, Transcoder};
use std::time::Instant;

/// Largest upstream error body read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// How an answer is turned back for the client.
pub struct Shape {
    /// The plan the request was sent with (its body already sent).
    pub plan: Plan,
    pub ingress: Ingress,
    /// The model the client asked for (shown in converted answers).
    pub client_model: String,
    /// The upstream streams AWS event-stream frames (Bedrock).
    pub bedrock: bool,
}

/// Relays the answer after `response`; `first_chunk` was already read (streams). Every read
/// is bounded by `timeouts` (idle and the request's deadline).
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
pub async fn relay(
    upstream: &mut HttpSession,
    response: &ResponseHeader,
    first_chunk: Option<Option<Bytes>>,
    shape: &Shape,
    streaming: bool,
    client: &mut Session,
    started: Instant,
    timeouts: &Timeouts,
) -> Delivery {
    let status = response.status.as_u16();
    let mut delivery = Delivery {
        status,
        ..Delivery::default()
    };
    if !(200..300).contains(&status) {
        let body = read_limited(upstream, ERROR_BODY_LIMIT, timeouts).await;
        delivery.complete = true;
        let same_family = shape.ingress.format.family() == shape.plan.upstream_format.family();
        let body = if same_family && !shape.bedrock {
            body
        } else {
            let mut error = pylon_shared::llm::parse_upstream_error(status, &body);
            error.status = Some(status);
            error.render(shape.ingress.format.family()).1
        };
        write_whole(client, status, &body, &mut delivery).await;
        return delivery;
    }
    if streaming {
        stream(
            upstream,
            response,
            first_chunk,
            shape,
            client,
            (started, timeouts),
            delivery,
        )
        .await
    } else if shape.plan.converted {
        converted(upstream, shape, client, (started, timeouts), delivery).await
    } else {
        passed_on(
            upstream,
            response,
            shape,
            client,
            (started, timeouts),
            delivery,
        )
        .await
    }
}

/// A stream, transcoded event by event.
async fn stream(
    upstream: &mut HttpSession,
    response: &ResponseHeader,
    first_chunk: Option<Option<Bytes>>,
    shape: &Shape,
    client: &mut Session,
    (started, timeouts): (Instant, &Timeouts),
    mut delivery: Delivery,
) -> Delivery {
    let client_stream = shape
        .plan
        .client_stream(&shape.ingress, &shape.client_model);
    let mut transcoder = match Transcoder::new(shape.plan.upstream_format, client_stream) {
        Ok(transcoder) => transcoder,
        Err(error) => {
            let (status, body) = error.render(shape.ingress.format.family());
            write_whole(client, status, &body, &mut delivery).await;
            delivery.status = status;
            return delivery;
        }
    };
    let json_array = shape.ingress.format == ApiFormat::Gemini && !shape.ingress.sse;
    let header = client_header(response, true).and_then(|mut header| {
        let content_type = if json_array {
            "application/json"
        } else {
            "text/event-stream"
        };
        header.insert_header("Content-Type", content_type)?;
        Ok(header)
    });
    let Ok(header) = header else {
        delivery.client_gone = true;
        return delivery;
    };
    if client
        .write_response_header(Box::new(header), false)
        .await
        .is_err()
    {
        delivery.client_gone = true;
        return delivery;
    }
    let mut adapter = shape.bedrock.then(StreamAdapter::new);
    let mut pending = first_chunk;
    let mut clean_end = false;
    let mut chunks = BodyChunks::new(timeouts);
    loop {
        let next = match pending.take() {
            Some(chunk) => Ok(chunk),
            None => chunks.next(upstream).await,
        };
        let chunk = match next {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                clean_end = true;
                break;
            }
            Err(cut) => {
                tracing::warn!(error = %cut.message, "upstream ended mid-stream");
                delivery.upstream_error = Some(cut.message);
                break;
            }
        };
        if delivery.first_byte.is_none() {
            delivery.first_byte = Some(started.elapsed());
        }
        let chunk = match adapter.as_mut() {
            Some(adapter) => match adapter.feed(&chunk) {
                Ok(events) => events,
                Err(error) => {
                    tracing::debug!(?error, "Bedrock event stream unreadable");
                    break;
                }
            },
            None => chunk,
        };
        let out = transcoder.feed(chunk);
        if !out.is_empty() && client.write_response_body(Some(out), false).await.is_err() {
            delivery.client_gone = true;
            break;
        }
    }
    let rest = transcoder.finish();
    if !delivery.client_gone
        && !rest.is_empty()
        && client.write_response_body(Some(rest), false).await.is_err()
    {
        delivery.client_gone = true;
    }
    delivery.complete = clean_end && transcoder.saw_terminal_event();
    delivery.usage = transcoder.usage().map(|u| u.billing());
    delivery.content_events = transcoder.content_events();
    delivery
}

/// A complete answer in another format: read whole, converted, sent with its own length.
async fn converted(
    upstream: &mut HttpSession,
    shape: &Shape,
    client: &mut Session,
    (started, timeouts): (Instant, &Timeouts),
    mut delivery: Delivery,
) -> Delivery {
    let mut body = Vec::new();
    let mut whole = true;
    let mut chunks = BodyChunks::new(timeouts);
    loop {
        match chunks.next(upstream).await {
            Ok(Some(chunk)) => {
                delivery.first_byte.get_or_insert_with(|| started.elapsed());
                if body.len() + chunk.len() > USAGE_BODY_LIMIT {
                    whole = false;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(cut) => {
                // Nothing reached the client yet: another channel may take the request.
                tracing::warn!(error = %cut.message, "upstream ended mid-answer");
                delivery.retry = Some(cut.message);
                return delivery;
            }
        }
    }
    let answer = if whole {
        shape
            .plan
            .answer(&shape.ingress, &body, &shape.client_model)
    } else {
        Err(ApiError::new(
            ErrorKind::Internal,
            "the upstream's answer was cut or too large to convert",
        ))
    };
    match answer {
        Ok((answer, usage)) => {
            delivery.complete = true;
            delivery.usage = usage.map(|u| u.billing());
            delivery.content_events = u64::from(!answer.is_empty());
            write_whole(client, delivery.status, &answer, &mut delivery).await;
        }
        Err(mut error) => {
            // Nothing usable reached the client: a failure, not charged.
            error.status = Some(502);
            let (status, body) = error.render(shape.ingress.format.family());
            delivery.status = status;
            write_whole(client, status, &body, &mut delivery).await;
        }
    }
    delivery
}

/// A complete answer in the client's own format: forwarded chunk by chunk, its usage read
/// from a copy at the end.
async fn passed_on(
    upstream: &mut HttpSession,
    response: &ResponseHeader,
    shape: &Shape,
    client: &mut Session,
    (started, timeouts): (Instant, &Timeouts),
    mut delivery: Delivery,
) -> Delivery {
    let Ok(header) = client_header(response, false) else {
        delivery.client_gone = true;
        return delivery;
    };
    if client
        .write_response_header(Box::new(header), false)
        .await
        .is_err()
    {
        delivery.client_gone = true;
        return delivery;
    }
    let mut kept = Vec::new();
    let mut chunks = BodyChunks::new(timeouts);
    loop {
        let chunk = match chunks.next(upstream).await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                delivery.complete = true;
                break;
            }
            Err(cut) => {
                // Sent with the upstream's length, the answer cannot be completed.
                tracing::warn!(error = %cut.message, "upstream ended mid-answer");
                delivery.upstream_error = Some(cut.message);
                delivery.cut = true;
                break;
            }
        };
        delivery.first_byte.get_or_insert_with(|| started.elapsed());
        if kept.len() + chunk.len() <= USAGE_BODY_LIMIT {
            kept.extend_from_slice(&chunk);
        }
        if client
            .write_response_body(Some(chunk), false)
            .await
            .is_err()
        {
            delivery.client_gone = true;
            break;
        }
    }
    if delivery.complete && shape.plan.upstream_op != Op::CountTokens {
        delivery.usage = shape
            .plan
            .answer(&shape.ingress, &kept, &shape.client_model)
            .ok()
            .and_then(|(_, usage)| usage)
            .map(|u| u.billing());
    }
    delivery
}

/// Writes a whole JSON answer's header; its body is held back as the delivery's tail, sent by
/// `exchange::end` once the charge has settled.
async fn write_whole(client: &mut Session, status: u16, body: &[u8], delivery: &mut Delivery) {
    let header = ResponseHeader::build(status, Some(2)).and_then(|mut header| {
        header.insert_header("Content-Type", "application/json")?;
        header.insert_header("Content-Length", body.len().to_string())?;
        Ok(header)
    });
    let Ok(header) = header else {
        delivery.client_gone = true;
        return;
    };
    if client
        .write_response_header(Box::new(header), false)
        .await
        .is_err()
    {
        delivery.client_gone = true;
        return;
    }
    delivery.tail = Some(Bytes::copy_from_slice(body));
}
