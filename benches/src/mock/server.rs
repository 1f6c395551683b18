//! The running server: accepts connections, reads requests, applies delays and injected
//! errors, routes to the endpoint handlers and writes their answers. A connection that opens
//! with HTTP/2's preface is served as h2c (prior knowledge), one task per stream; any other
//! as HTTP/1.1 with keep-alive.

use super::config::MockConfig;
use super::errors::{self, Dialect};
use super::handler::{Ctx, HandlerResult, Reply};
use super::http::{self, Conn, ReadError, Request, Response};
use super::knobs::Knobs;
use super::record::RecordedRequest;
use super::sink::Sink;
use super::sse::{self, Ending};
use super::{anthropic, gemini, openai, rng};
use serde_json::{Value, json};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long an HTTP/2 stream cut on purpose waits before its reset.
const H2_ABORT_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// State shared by the handle and every connection.
pub(crate) struct Shared {
    config: RwLock<Arc<MockConfig>>,
    records: Mutex<Vec<RecordedRequest>>,
    count: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(config: MockConfig) -> Self {
        Self {
            config: RwLock::new(Arc::new(config)),
            records: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
        }
    }

    pub(crate) fn config(&self) -> Arc<MockConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_config(&self, config: MockConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }

    pub(crate) fn records(&self) -> Vec<RecordedRequest> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn clear_records(&self) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// Accepts connections until `shutdown` turns true (or its sender is gone).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = stopped(&mut shutdown) => {}
                        // A peer that goes away mid-exchange is normal for a mock; nothing to do.
                        _ = connection(stream, shared) => {}
                    }
                });
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Serves one connection: HTTP/2 when it opens with the h2 preface (`PRI * HTTP/2.0`), else
/// HTTP/1.1 request after request.
async fn connection(stream: TcpStream, shared: Arc<Shared>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut conn = BufReader::with_capacity(16 * 1024, stream);
    // No HTTP/1 method starts with "PRI": three bytes tell the protocols apart.
    while conn.buffer().len() < 3 {
        let before = conn.buffer().len();
        if conn.fill_buf().await?.len() == before {
            return Ok(());
        }
    }
    if conn.buffer().starts_with(b"PRI") {
        return h2_connection(conn, shared).await;
    }
    loop {
        let mut max_body = 0;
        let limit = || {
            max_body = shared.config().max_body_bytes;
            max_body
        };
        let req = match http::read_request(&mut conn, limit).await {
            Ok(req) => req,
            Err(ReadError::Closed) => return Ok(()),
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::TooLarge) => {
                let message = format!("Request body larger than {max_body} bytes.");
                let resp = errors::error(Dialect::OpenAi, 413, &message, None);
                return refuse(&mut conn, &resp).await;
            }
            Err(ReadError::Malformed(message)) => {
                let resp = errors::error(Dialect::OpenAi, 400, message, None);
                return refuse(&mut conn, &resp).await;
            }
        };
        let keep_alive = req.keep_alive;
        let mut sink = Sink::H1 {
            conn: &mut conn,
            keep_alive,
        };
        if exchange(&mut sink, req, &shared).await? == Ending::Aborted || !keep_alive {
            return Ok(());
        }
    }
}

/// Serves an h2c connection: each stream's request read whole, then answered by its own task.
async fn h2_connection(conn: Conn, shared: Arc<Shared>) -> io::Result<()> {
    let mut connection = h2::server::handshake(conn)
        .await
        .map_err(io::Error::other)?;
    while let Some(accepted) = connection.accept().await {
        let (request, respond) = accepted.map_err(io::Error::other)?;
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            // A stream the client resets or a body over the limit ends only that stream.
            let _ = h2_stream(request, respond, &shared).await;
        });
    }
    Ok(())
}

async fn h2_stream(
    request: ::http::Request<h2::RecvStream>,
    respond: h2::server::SendResponse<bytes::Bytes>,
    shared: &Shared,
) -> io::Result<()> {
    let (head, mut incoming) = request.into_parts();
    let max_body = shared.config().max_body_bytes;
    let mut body = Vec::new();
    while let Some(data) = incoming.data().await {
        let data = data.map_err(io::Error::other)?;
        let _ = incoming.flow_control().release_capacity(data.len());
        body.extend_from_slice(&data);
        if body.len() > max_body {
            let message = format!("Request body larger than {max_body} bytes.");
            let resp = errors::error(Dialect::OpenAi, 413, &message, None);
            let mut sink = Sink::H2 {
                respond,
                body: None,
            };
            return sink.full(&resp).await;
        }
    }
    let headers = head
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    let req = Request {
        method: head.method.as_str().to_string(),
        path: head.uri.path().to_string(),
        query: head.uri.query().map(str::to_string),
        headers,
        body,
        keep_alive: true,
        version: "HTTP/2",
    };
    let mut sink = Sink::H2 {
        respond,
        body: None,
    };
    if exchange(&mut sink, req, shared).await? == Ending::Aborted {
        // A reset discards the stream's frames still queued: give the connection a moment
        // to write what was sent, as a dying upstream would have.
        tokio::time::sleep(H2_ABORT_PAUSE).await;
        sink.abort();
    }
    Ok(())
}

/// Answers a request that cannot be read and closes the connection. The unread rest of the
/// request is drained for a moment first: closing with unread data would reset the connection
/// and could destroy the answer before the client reads it.
async fn refuse(conn: &mut Conn, resp: &Response) -> io::Result<()> {
    http::write_response(conn, resp, false).await?;
    conn.get_mut().shutdown().await?;
    let mut sink = tokio::io::sink();
    let drain = tokio::io::copy(conn, &mut sink);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    Ok(())
}

/// Answers one request.
async fn exchange(sink: &mut Sink<'_>, req: Request, shared: &Shared) -> io::Result<Ending> {
    let received = Instant::now();
    let config = shared.config();
    let json = parse_json(&req);
    shared.count.fetch_add(1, Ordering::Relaxed);
    if config.record {
        let record = RecordedRequest::new(&req, json.as_ref(), received);
        shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }
    let dialect = Dialect::of(&req.path);
    let mut knobs = match Knobs::resolve(&config, &req) {
        Ok(knobs) => knobs,
        Err(message) => return full(sink, errors::error(dialect, 400, &message, None)).await,
    };
    knobs.limit_completion(json.as_ref());
    if !knobs.delay.is_zero() || knobs.jitter_ms > 0 {
        let jitter = std::time::Duration::from_millis(rng::up_to(knobs.jitter_ms));
        tokio::time::sleep_until((received + knobs.delay + jitter).into()).await;
    }
    let injected = match knobs.status {
        Some(status) if status >= 400 => Some(status),
        _ if rng::chance(knobs.error_rate) => Some(500),
        _ => None,
    };
    if let Some(status) = injected {
        let message = errors::injected_message(status);
        let resp = errors::error(dialect, status, message, knobs.retry_after.as_deref());
        return full(sink, resp).await;
    }
    let ctx = Ctx {
        req: &req,
        json: json.as_ref(),
        knobs: &knobs,
        config: &config,
    };
    match route(&ctx) {
        Ok(Reply::Stream(stream)) => sse::send(sink, stream, &knobs).await,
        Ok(Reply::Full(mut resp)) => {
            // A forced success status (e.g. 201) replaces 200 on the normal body.
            if let Some(status) = knobs.status.filter(|s| *s < 400) {
                resp.status = status;
            }
            if let Some(sent) = knobs.cut_body {
                sink.cut(&resp, sent).await?;
                tokio::time::sleep(knobs.stall_body).await;
                return Ok(Ending::Aborted);
            }
            full(sink, resp).await
        }
        Err(resp) => full(sink, resp).await,
    }
}

async fn full(sink: &mut Sink<'_>, resp: Response) -> io::Result<Ending> {
    sink.full(&resp).await?;
    Ok(Ending::Complete)
}

fn parse_json(req: &Request) -> Option<Value> {
    let first = req.body.iter().find(|b| !b.is_ascii_whitespace())?;
    let declared = req
        .header("content-type")
        .is_some_and(|ct| ct.contains("json"));
    if declared || *first == b'{' || *first == b'[' {
        serde_json::from_slice(&req.body).ok()
    } else {
        None
    }
}

/// Picks the endpoint handler for the request's method and path.
fn route(ctx: &Ctx) -> HandlerResult {
    let path = ctx.req.path.as_str();
    match (ctx.req.method.as_str(), path) {
        ("POST", "/v1/chat/completions") => openai::chat::create(ctx),
        ("POST", "/v1/completions") => openai::completions::create(ctx),
        ("POST", "/v1/embeddings") => openai::embeddings::create(ctx),
        ("POST", "/v1/responses") => openai::responses::create(ctx),
        ("POST", "/v1/images/generations") => openai::images::generate(ctx),
        ("POST", "/v1/moderations") => openai::moderations::create(ctx),
        ("POST", "/v1/audio/speech") => openai::audio::speech(ctx),
        ("POST", "/v1/audio/transcriptions") => openai::audio::transcribe(ctx),
        ("GET", "/v1/models") => openai::models::list(ctx),
        ("POST", "/v1/messages") => anthropic::messages(ctx),
        ("POST", "/v1/messages/count_tokens") => anthropic::count_tokens(ctx),
        ("GET", "/health") => Ok(Reply::Full(Response::json(200, &json!({"status": "ok"})))),
        ("POST", _) if is_azure_chat(path) => openai::chat::create(ctx),
        (method, _) => {
            let gemini_call = path
                .strip_prefix("/v1beta/models/")
                .or_else(|| path.strip_prefix("/v1/models/"))
                .and_then(|rest| rest.split_once(':'));
            match (method, gemini_call) {
                ("POST", Some((model, action))) => gemini::dispatch(ctx, model, action),
                ("GET", None) => match path.strip_prefix("/v1/models/") {
                    Some(id) if !id.is_empty() => openai::models::retrieve(ctx, id),
                    _ => Err(not_found(ctx)),
                },
                _ => Err(not_found(ctx)),
            }
        }
    }
}

/// Azure OpenAI's chat path: `/openai/deployments/{deployment}/chat/completions`.
fn is_azure_chat(path: &str) -> bool {
    path.strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(deployment, tail)| !deployment.is_empty() && tail == "chat/completions")
}

fn not_found(ctx: &Ctx) -> Response {
    errors::unknown_route(&ctx.req.method, &ctx.req.path)
}
