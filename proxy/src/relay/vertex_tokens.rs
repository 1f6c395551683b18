//! Vertex AI access tokens: obtained with the service account's signed JWT (built by the
//! formats layer) from its token endpoint, and cached per key until a minute before they
//! expire, so a request pays for the exchange only once an hour.

use super::dns::Resolver;
use super::snapshot::Upstream;
use dashmap::DashMap;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pylon_shared::llm::provider::vertex;
use pylon_shared::llm::{Channel, UpstreamRequest};
use std::time::{Duration, Instant};

/// A token is renewed this long before it expires.
const MARGIN: Duration = Duration::from_secs(60);
/// The token exchange's connect and read timeout.
const TIMEOUT: Duration = Duration::from_secs(15);
/// Largest token answer read.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Cached tokens by service-account key.
#[derive(Default)]
pub struct TokenCache {
    tokens: DashMap<String, (String, Instant)>,
    resolver: Resolver,
}

impl TokenCache {
    /// A valid access token for the Vertex channel's key.
    pub async fn token(&self, channel: &Channel) -> Result<String, String> {
        if let Some(entry) = self.tokens.get(&channel.key)
            && entry.1 > Instant::now()
        {
            return Ok(entry.0.clone());
        }
        let account = vertex::parse_service_account(&channel.key).map_err(|e| e.message)?;
        let now = u64::try_from(pylon_shared::db::now_secs()).unwrap_or(0);
        let request = vertex::token_request(&account, now).map_err(|e| e.message)?;
        let (status, body) = self.send(&request).await?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "the Vertex AI token exchange answered {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        let token = vertex::parse_token_answer(&body).map_err(|e| e.message)?;
        let lives = Duration::from_secs(token.expires_in).saturating_sub(MARGIN);
        self.tokens.insert(
            channel.key.clone(),
            (token.token.clone(), Instant::now() + lives),
        );
        Ok(token.token)
    }

    /// Sends a small request and reads its whole (bounded) answer.
    async fn send(&self, request: &UpstreamRequest) -> Result<(u16, Vec<u8>), String> {
        let upstream = Upstream::parse(&request.origin)
            .ok_or_else(|| format!("unusable token endpoint {}", request.origin))?;
        let addr = self
            .resolver
            .resolve(&upstream.host, upstream.port)
            .await
            .map_err(|e| format!("resolving {} failed: {e}", upstream.host))?;
        let mut peer = HttpPeer::new(addr, upstream.tls, upstream.host.clone());
        peer.options.connection_timeout = Some(TIMEOUT);
        peer.options.total_connection_timeout = Some(TIMEOUT);
        peer.options.read_timeout = Some(TIMEOUT);
        // A connector of its own: the exchange happens about once an hour per key.
        let (mut session, _) = Connector::new(None)
            .get_http_session(&peer)
            .await
            .map_err(|e| format!("connecting to the token endpoint failed: {e}"))?;
        let failed = |e: Box<pingora::Error>| format!("the token exchange failed: {e}");
        let mut header =
            RequestHeader::build(request.method, request.path_and_query.as_bytes(), None)
                .map_err(failed)?;
        let default_port = if upstream.tls { 443 } else { 80 };
        let host = if upstream.port == default_port {
            upstream.host.clone()
        } else {
            format!("{}:{}", upstream.host, upstream.port)
        };
        header.insert_header("Host", host).map_err(failed)?;
        for (name, value) in &request.headers {
            header
                .insert_header(name.clone(), value.clone())
                .map_err(failed)?;
        }
        header
            .insert_header("Content-Length", request.body.len().to_string())
            .map_err(failed)?;
        session
            .write_request_header(Box::new(header))
            .await
            .map_err(failed)?;
        session
            .write_request_body(bytes::Bytes::from(request.body.clone()), true)
            .await
            .map_err(failed)?;
        session.finish_request_body().await.map_err(failed)?;
        session.read_response_header().await.map_err(failed)?;
        let status = session.response_header().map_or(502, |h| h.status.as_u16());
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = session.read_response_body().await {
            body.extend_from_slice(&chunk);
            if body.len() > ANSWER_LIMIT {
                break;
            }
        }
        session.shutdown().await;
        Ok((status, body))
    }
}
