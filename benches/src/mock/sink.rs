//! Where an answer goes: an HTTP/1.1 connection (written by `http.rs`'s codec) or one HTTP/2
//! stream (h2c with prior knowledge, served by the `h2` crate). The endpoints and the stream
//! pacing write through this, so both protocols give the same answers.

use super::http::{self, Conn, Response};
use bytes::Bytes;
use std::io;

/// The writer of one answer.
pub(crate) enum Sink<'a> {
    /// An HTTP/1.1 connection; `keep_alive` as the request asked.
    H1 {
        conn: &'a mut Conn,
        keep_alive: bool,
    },
    /// One HTTP/2 stream: its responder until the head is sent, then its body.
    H2 {
        respond: h2::server::SendResponse<Bytes>,
        body: Option<h2::SendStream<Bytes>>,
    },
}

fn h2_error(error: h2::Error) -> io::Error {
    io::Error::other(error)
}

impl Sink<'_> {
    /// Sends the head of a response; `length` is the body's when known (a stream has none).
    fn h2_head(
        &mut self,
        status: u16,
        content_type: &str,
        headers: &[(&'static str, String)],
        length: Option<usize>,
    ) -> io::Result<()> {
        let Sink::H2 { respond, body } = self else {
            return Ok(());
        };
        let mut head = ::http::Response::builder()
            .status(status)
            .header("content-type", content_type);
        for (name, value) in headers {
            head = head.header(*name, value.as_str());
        }
        if let Some(length) = length {
            head = head.header("content-length", length);
        }
        let head = head.body(()).map_err(io::Error::other)?;
        *body = Some(respond.send_response(head, false).map_err(h2_error)?);
        Ok(())
    }

    fn h2_data(&mut self, data: &[u8], end: bool) -> io::Result<()> {
        if let Sink::H2 {
            body: Some(body), ..
        } = self
        {
            body.send_data(Bytes::copy_from_slice(data), end)
                .map_err(h2_error)?;
        }
        Ok(())
    }

    /// A whole response.
    pub(crate) async fn full(&mut self, resp: &Response) -> io::Result<()> {
        match self {
            Sink::H1 { conn, keep_alive } => http::write_response(conn, resp, *keep_alive).await,
            Sink::H2 { .. } => {
                let length = Some(resp.body.len());
                self.h2_head(resp.status, resp.content_type, &resp.headers, length)?;
                self.h2_data(&resp.body, true)
            }
        }
    }

    /// A response announced whole of which only the first `sent` bytes go out; the caller
    /// then ends the exchange with [`Sink::abort`].
    pub(crate) async fn cut(&mut self, resp: &Response, sent: usize) -> io::Result<()> {
        match self {
            Sink::H1 { conn, .. } => http::write_cut_response(conn, resp, sent).await,
            Sink::H2 { .. } => {
                let length = Some(resp.body.len());
                self.h2_head(resp.status, resp.content_type, &resp.headers, length)?;
                let sent = sent.min(resp.body.len().saturating_sub(1));
                self.h2_data(&resp.body[..sent], false)
            }
        }
    }

    /// The head of a streamed 200 response.
    pub(crate) async fn stream_head(&mut self, content_type: &'static str) -> io::Result<()> {
        match self {
            Sink::H1 { conn, keep_alive } => {
                http::write_stream_head(conn, content_type, *keep_alive).await
            }
            Sink::H2 { .. } => {
                let extra = [("cache-control", "no-cache".to_string())];
                self.h2_head(200, content_type, &extra, None)
            }
        }
    }

    /// One piece of a streamed body, sent at once.
    pub(crate) async fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::H1 { conn, .. } => http::write_chunk(conn, data).await,
            Sink::H2 { .. } if data.is_empty() => Ok(()),
            Sink::H2 { .. } => self.h2_data(data, false),
        }
    }

    /// Ends a streamed body.
    pub(crate) async fn end_stream(&mut self) -> io::Result<()> {
        match self {
            Sink::H1 { conn, .. } => http::write_last_chunk(conn).await,
            Sink::H2 { .. } => self.h2_data(&[], true),
        }
    }

    /// Ends an answer cut on purpose: an HTTP/2 stream is reset (an HTTP/1.1 connection is
    /// closed by its caller).
    pub(crate) fn abort(&mut self) {
        if let Sink::H2 { respond, body } = self {
            match body {
                Some(body) => body.send_reset(h2::Reason::INTERNAL_ERROR),
                None => respond.send_reset(h2::Reason::INTERNAL_ERROR),
            }
        }
    }
}
