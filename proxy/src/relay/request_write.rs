//! Sending the request to the upstream. Pingora's HTTP/1 client flushes the request header on
//! its own before the body is written, so a request leaves in two TCP segments, and an upstream
//! waiting on its socket is woken twice: once to read a header and wait again, once for the body.
//! On a fast network (or loopback) that second wake-up and the context switches around it cost
//! more CPU than the whole rest of relaying a small request. A request whose body is small
//! enough to copy cheaply is therefore written whole, header and body together, in one write to
//! the connection; larger bodies and HTTP/2 go through Pingora's own writer.

use bytes::{BufMut, Bytes};
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::{HttpSession as Http1Session, http_req_header_to_wire};
use pingora::{Error, ErrorType};
use tokio::io::AsyncWriteExt;

/// Largest body sent in the same write as its header (copying more costs more than a write).
const ONE_WRITE_BODY: usize = 64 * 1024;

/// Sends `header` and `body` on `session`, the whole request. Returns the session to read the
/// answer from: an HTTP/1 session written in one piece is a new session over the same
/// connection, which Pingora reads and pools as it would its own.
pub(super) async fn send(
    session: HttpSession,
    header: RequestHeader,
    body: &Bytes,
    peer: &HttpPeer,
) -> (HttpSession, pingora::Result<()>) {
    match session {
        HttpSession::H1(h1) if body.len() <= ONE_WRITE_BODY => {
            let mut stream = h1.into_inner();
            let written = match whole(&header, body) {
                Some(bytes) => async {
                    stream.write_all(&bytes).await?;
                    stream.flush().await
                }
                .await
                .map_err(|error| {
                    Error::because(ErrorType::WriteError, "writing the request", error)
                }),
                None => Err(Error::explain(
                    ErrorType::InvalidHTTPHeader,
                    "the request line holds a forbidden byte",
                )),
            };
            (
                HttpSession::H1(Http1Session::new_with_options(stream, peer)),
                written,
            )
        }
        // Boxed: Pingora's writers (HTTP/2's above all) would otherwise size the state of every
        // relayed request, streams included, for its whole life.
        session => Box::pin(write_in_parts(session, header, body.clone())).await,
    }
}

/// Pingora's own way: header, body, end of body.
async fn write_in_parts(
    mut session: HttpSession,
    header: RequestHeader,
    body: Bytes,
) -> (HttpSession, pingora::Result<()>) {
    let written = async {
        session.write_request_header(Box::new(header)).await?;
        session.write_request_body(body, true).await?;
        session.finish_request_body().await
    }
    .await;
    (session, written)
}

/// The request as it goes on the wire: header, then body (`None`: the request line cannot be
/// written).
fn whole(header: &RequestHeader, body: &Bytes) -> Option<bytes::BytesMut> {
    let mut bytes = http_req_header_to_wire(header)?;
    bytes.reserve(body.len());
    bytes.put_slice(body);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_the_header_on_the_wire() {
        let mut header = RequestHeader::build("POST", b"/v1/chat/completions", None).unwrap();
        header.insert_header("Host", "upstream.test").unwrap();
        header.insert_header("Content-Length", "2").unwrap();
        let bytes = whole(&header, &Bytes::from_static(b"{}")).unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n{}"), "{text}");
        assert!(text.contains("Content-Length: 2\r\n"), "{text}");
    }
}
