//! A small HTTP/1.1 server codec: reads one request (Content-Length or chunked body,
//! `Expect: 100-continue`, keep-alive) and writes full or chunked responses.
//!
//! The mock speaks HTTP/1.1 itself rather than through axum because a paced stream needs a
//! body that yields on deadlines, and the crate has no `Stream`/`http_body` trait in reach
//! (no futures-core dependency); writing each event as its own chunk on the socket is also the
//! cheapest possible baseline for benchmarks.

use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest request head (request line + headers) accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The buffered connection every request is read from and every response written to.
pub(crate) type Conn = BufReader<TcpStream>;

/// One parsed request with its whole body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub keep_alive: bool,
    /// `HTTP/1.1` (or `HTTP/1.0`), or `HTTP/2`.
    pub version: &'static str,
}

impl Request {
    /// The first header with this (lowercase) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of one query parameter (no percent-decoding: the mock only reads plain ones).
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// The request is not valid HTTP/1.x.
    Malformed(&'static str),
    /// The body is larger than the limit.
    TooLarge,
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads the next request, its body included. `max_body` is asked once the head has arrived,
/// so that a configuration change applies to idle keep-alive connections too.
pub(crate) async fn read_request(
    conn: &mut Conn,
    max_body: impl FnOnce() -> usize,
) -> Result<Request, ReadError> {
    let mut line = Vec::with_capacity(256);
    let mut head_bytes = read_line(conn, &mut line, 0).await?;
    // Tolerate stray empty lines between pipelined requests (RFC 9112 section 2.2).
    while line.is_empty() {
        head_bytes = read_line(conn, &mut line, head_bytes).await?;
    }
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("unsupported HTTP version"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::with_capacity(16);
    loop {
        head_bytes = read_line(conn, &mut line, head_bytes).await?;
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Malformed("malformed header line"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
        keep_alive: false,
        version: if version == "HTTP/1.0" {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        },
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.keep_alive = if version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    req.body = read_body(conn, &req, max_body()).await?;
    Ok(req)
}

/// Reads one CRLF- (or LF-) terminated line into `line`, without the terminator, counting it
/// against the head limit.
async fn read_line(conn: &mut Conn, line: &mut Vec<u8>, used: usize) -> Result<usize, ReadError> {
    line.clear();
    let limit = (MAX_HEAD_BYTES - used.min(MAX_HEAD_BYTES)) as u64;
    let n = (&mut *conn).take(limit).read_until(b'\n', line).await?;
    if n == 0 {
        return Err(if used == 0 {
            ReadError::Closed
        } else {
            ReadError::Malformed("connection closed inside the request head")
        });
    }
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Malformed("request head too large or truncated"));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(used + n)
}

async fn read_body(conn: &mut Conn, req: &Request, max_body: usize) -> Result<Vec<u8>, ReadError> {
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = match req.header("content-length") {
        Some(v) if !chunked => v
            .parse::<usize>()
            .map_err(|_| ReadError::Malformed("invalid content-length"))?,
        _ => 0,
    };
    if length > max_body {
        return Err(ReadError::TooLarge);
    }
    if (chunked || length > 0)
        && req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        conn.get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    if chunked {
        return read_chunked(conn, max_body).await;
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_chunked(conn: &mut Conn, max_body: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::with_capacity(32);
    loop {
        read_line(conn, &mut line, 0).await?;
        let text = String::from_utf8_lossy(&line);
        let size = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Malformed("invalid chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line that ends the message.
            loop {
                read_line(conn, &mut line, 0).await?;
                if line.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > max_body {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).await?;
        read_line(conn, &mut line, 0).await?;
    }
}

/// A complete (non-streamed) response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with this status.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            // Serializing a `Value` cannot fail (its keys are strings).
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}

/// Writes a whole response (head and body) in one write.
pub(crate) async fn write_response(
    conn: &mut Conn,
    resp: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(160 + resp.body.len());
    head(
        &mut out,
        resp.status,
        resp.content_type,
        &resp.headers,
        keep_alive,
    );
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(resp.body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&resp.body);
    conn.get_mut().write_all(&out).await
}

/// Writes `resp`'s head with its full length but only the first `sent` bytes of its body (a
/// cut answer; the caller then closes the connection).
pub(crate) async fn write_cut_response(
    conn: &mut Conn,
    resp: &Response,
    sent: usize,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(160 + resp.body.len());
    head(
        &mut out,
        resp.status,
        resp.content_type,
        &resp.headers,
        false,
    );
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(resp.body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&resp.body[..sent.min(resp.body.len().saturating_sub(1))]);
    conn.get_mut().write_all(&out).await?;
    conn.get_mut().flush().await
}

/// Writes the head of a chunked (streamed) 200 response.
pub(crate) async fn write_stream_head(
    conn: &mut Conn,
    content_type: &'static str,
    keep_alive: bool,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(160);
    let extra = [("cache-control", "no-cache".to_string())];
    head(&mut out, 200, content_type, &extra, keep_alive);
    out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    conn.get_mut().write_all(&out).await
}

/// Writes one body chunk (one SSE event) and sends it at once.
pub(crate) async fn write_chunk(conn: &mut Conn, data: &[u8]) -> io::Result<()> {
    if data.is_empty() {
        // An empty chunk would end the body.
        return Ok(());
    }
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    conn.get_mut().write_all(&out).await
}

/// Ends a chunked body.
pub(crate) async fn write_last_chunk(conn: &mut Conn) -> io::Result<()> {
    conn.get_mut().write_all(b"0\r\n\r\n").await
}

fn head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    headers: &[(&'static str, String)],
    keep_alive: bool,
) {
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason(status)).as_bytes());
    out.extend_from_slice(b"content-type: ");
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Status",
    }
}
