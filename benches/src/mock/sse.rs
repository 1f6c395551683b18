//! Paced streams: writes a stream's events on absolute deadlines
//! (`start + ttft + i * interval`, so pacing never drifts), each event as its own HTTP/1.1
//! chunk or HTTP/2 data frame, and ends it cleanly or aborts it mid-way.

use super::knobs::Knobs;
use super::sink::Sink;
use super::{rng, text};
use std::io;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// The provider-specific events of one stream.
pub(crate) trait EventSource: Send {
    /// Events sent at the first-token deadline, before the first content chunk.
    fn opening(&mut self, out: &mut Vec<Vec<u8>>);
    /// The event carrying content chunk `index`.
    fn delta(&mut self, index: u32, text: &str) -> Vec<u8>;
    /// Events after the last content chunk: finish reason, usage, end marker.
    fn closing(&mut self, out: &mut Vec<Vec<u8>>);
}

/// A stream ready to be sent.
pub(crate) struct Stream {
    pub content_type: &'static str,
    pub source: Box<dyn EventSource>,
}

impl Stream {
    /// An SSE (`text/event-stream`) stream.
    pub(crate) fn sse(source: impl EventSource + 'static) -> Self {
        Self {
            content_type: "text/event-stream",
            source: Box::new(source),
        }
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    /// Cut off on purpose: the connection must be closed without ending the body.
    Aborted,
}

/// `data: <json>\n\n`.
pub(crate) fn data_event(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// `event: <name>\ndata: <json>\n\n`.
pub(crate) fn named_event(name: &str, json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + json.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// Sends the stream: head at once, opening events and chunk 0 at `ttft`, chunk `i` at
/// `ttft + i * interval` (plus jitter), closing events right after the last chunk.
pub(crate) async fn send(
    sink: &mut Sink<'_>,
    mut stream: Stream,
    knobs: &Knobs,
) -> io::Result<Ending> {
    sink.stream_head(stream.content_type).await?;
    let start = Instant::now();
    let size = knobs.chunk_bytes();
    let mut events = Vec::new();
    sleep_until(deadline(start, knobs, 0)).await;
    stream.source.opening(&mut events);
    write_all(sink, &mut events).await?;
    for i in 0..knobs.chunks {
        if i > 0 {
            sleep_until(deadline(start, knobs, i)).await;
        }
        if knobs.abort_after == Some(i) {
            return Ok(Ending::Aborted);
        }
        let event = stream.source.delta(i, &text::chunk_text(i, size));
        sink.chunk(&event).await?;
    }
    if knobs.abort_after == Some(knobs.chunks) {
        return Ok(Ending::Aborted);
    }
    stream.source.closing(&mut events);
    write_all(sink, &mut events).await?;
    sink.end_stream().await?;
    Ok(Ending::Complete)
}

fn deadline(start: Instant, knobs: &Knobs, index: u32) -> Instant {
    start + knobs.ttft + knobs.interval * index + Duration::from_millis(rng::up_to(knobs.jitter_ms))
}

async fn write_all(sink: &mut Sink<'_>, events: &mut Vec<Vec<u8>>) -> io::Result<()> {
    for event in events.drain(..) {
        sink.chunk(&event).await?;
    }
    Ok(())
}
