//! Prometheus metrics of the control plane: requests by route and status class, and cache
//! updates that failed after a committed money movement.

use crate::app::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramVec, IntCounterVec, IntGauge, Registry, TextEncoder};

/// The control plane's registry and instruments.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Requests being answered now (new-api's `active_connections`).
    in_flight: IntGauge,
    /// Post-commit cache work of the ledger that failed, by step (`balance_mirror`,
    /// `change_feed`): the movement stood, the caches catch up from the database.
    pub ledger_post_commit_failures: IntCounterVec,
    /// Stored rows skipped at a load (see `pylon_shared::db::report_bad_row`).
    skipped_rows: IntCounterVec,
}

impl Metrics {
    /// Registers every instrument.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("pylon_control_plane".into()), None)?;
        let requests = IntCounterVec::new(
            prometheus::Opts::new(
                "http_requests_total",
                "HTTP requests by route and status class",
            ),
            &["route", "status"],
        )?;
        let latency = HistogramVec::new(
            prometheus::HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            ),
            &["route"],
        )?;
        let ledger_post_commit_failures = IntCounterVec::new(
            prometheus::Opts::new(
                "ledger_post_commit_failures_total",
                "Cache updates that failed after a money movement was committed, by step",
            ),
            &["step"],
        )?;
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being answered now",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(ledger_post_commit_failures.clone()))?;
        let skipped_rows = pylon_shared::db::skipped_rows_counter()?;
        registry.register(Box::new(skipped_rows.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            in_flight,
            ledger_post_commit_failures,
            skipped_rows,
        })
    }

    /// Requests being answered now.
    pub fn in_flight(&self) -> i64 {
        self.in_flight.get()
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        pylon_shared::db::export_skipped_rows(&self.skipped_rows);
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        buffer
    }
}

/// Middleware recording each request. The route label is the matched pattern, never the raw
/// path, so the label set stays small.
pub async fn track(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = std::time::Instant::now();
    let in_flight = InFlight::start(&app.metrics.in_flight);
    let response = next.run(request).await;
    drop(in_flight);
    let class = format!("{}xx", response.status().as_u16() / 100);
    app.metrics
        .requests
        .with_label_values(&[route.as_str(), class.as_str()])
        .inc();
    app.metrics
        .latency
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// One request counted in flight until it is dropped (also when the client goes away and the
/// request's future is dropped before it answers).
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn start(gauge: &'a IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
