//! Prometheus metrics of the proxy and the listener that exposes them. Labels stay
//! low-cardinality: route, status class (never keys or users).

use crate::route::Route;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Duration;

/// The proxy's registry and instruments.
pub struct ProxyMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl ProxyMetrics {
    /// Registers every instrument.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("pylon_proxy".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Requests by route and status class"),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time from request to completion",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0, 300.0,
            ]),
            &["route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
        })
    }

    /// Records a finished request.
    pub fn observe_request(&self, route: Route, status: u16, elapsed: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "none",
        };
        self.requests
            .with_label_values(&[route.label(), class])
            .inc();
        self.latency
            .with_label_values(&[route.label()])
            .observe(elapsed.as_secs_f64());
    }

    fn render(&self) -> Vec<u8> {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        buffer
    }
}

/// Serves the text exposition on any path of the metrics listener.
pub struct MetricsApp {
    metrics: Arc<ProxyMetrics>,
}

impl MetricsApp {
    /// An app exposing `metrics`.
    pub fn new(metrics: Arc<ProxyMetrics>) -> Self {
        Self { metrics }
    }
}

#[async_trait]
impl ServeHttp for MetricsApp {
    async fn response(&self, _session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let body = self.metrics.render();
        let mut response = http::Response::new(body);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    }
}
