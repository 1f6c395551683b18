//! The Pingora `ProxyHttp` implementation: each phase is short and delegates.

use crate::context::RequestContext;
use crate::route::Route;
use crate::state::ProxyState;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pylon_shared::channel_affinity::wire;
use std::sync::Arc;

/// Pylon's proxy service.
pub struct PylonProxy {
    state: Arc<ProxyState>,
}

impl PylonProxy {
    /// A proxy over the shared state.
    pub fn new(state: Arc<ProxyState>) -> Self {
        Self { state }
    }
}

#[async_trait]
impl ProxyHttp for PylonProxy {
    type CTX = RequestContext;

    fn new_ctx(&self) -> Self::CTX {
        RequestContext::new()
    }

    /// No downstream modules. Pingora's default adds its response compression, disabled
    /// (level 0), which still runs on every answer's header and on every body chunk; answers
    /// are relayed as the upstream sent them, as new-api does.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        if let Some(stream) = session.downstream_session.stream() {
            self.state.edge.header_arrived(stream.id());
        }
        ctx.route = Route::of_path(session.req_header().uri.path());
        match ctx.route {
            Route::Health => {
                crate::relay::write_json(session, 200, Bytes::from_static(br#"{"status":"ok"}"#))
                    .await?;
                Ok(true)
            }
            Route::Relay => {
                self.state.relay.handle(session, &mut ctx.relay).await?;
                Ok(true)
            }
            Route::ControlPlane => Ok(false),
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.state.control_plane,
            false,
            String::new(),
        )))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        _ctx: &mut Self::CTX,
    ) -> Result<()> {
        // The control plane believes these only from loopback; overwrite whatever the client sent.
        if let Some(addr) = session.client_addr().and_then(|a| a.as_inet()) {
            let ip = addr.ip().to_string();
            upstream_request.insert_header("X-Real-IP", &ip)?;
            upstream_request.insert_header("X-Forwarded-For", &ip)?;
        }
        upstream_request.insert_header("X-Forwarded-Proto", "http")?;
        // The control plane believes this only from here too.
        match self.state.relay.affinity_state(session.req_header()).await {
            Some(state) => upstream_request.insert_header(wire::STATE_HEADER, state)?,
            None => {
                upstream_request.remove_header(wire::STATE_HEADER);
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        // Only the control plane's answer to new-api's clearing route orders a clear, and the
        // order never reaches the client.
        let Some(order) = upstream_response.remove_header(wire::CLEAR_HEADER) else {
            return Ok(());
        };
        let header = session.req_header();
        let clearing = ctx.route == Route::ControlPlane
            && header.method == http::Method::DELETE
            && header.uri.path().trim_end_matches('/') == wire::CACHE_PATH;
        match serde_json::from_slice::<wire::Clear>(order.as_bytes()) {
            Ok(clear) if clearing => {
                let cleared = self.state.relay.affinity.clear(&clear).await;
                tracing::info!(?clear, cleared, "channel affinity bindings cleared");
            }
            _ => tracing::warn!("ignored a malformed or misplaced channel affinity clear order"),
        }
        Ok(())
    }

    async fn logging(&self, session: &mut Session, _error: Option<&Error>, ctx: &mut Self::CTX) {
        let status = session
            .response_written()
            .map_or(0, |response| response.status.as_u16());
        self.state
            .metrics
            .observe_request(ctx.route, status, ctx.started.elapsed());
        if ctx.route == Route::Relay && !ctx.relay.model.is_empty() {
            self.state
                .metrics
                .observe_relay(&ctx.relay.model, ctx.relay.channel_id, status);
        }
    }
}
