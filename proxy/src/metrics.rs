//! Prometheus metrics of the proxy and the listener that exposes them. Labels stay
//! low-cardinality: route, status class (never keys or users).

use crate::route::Route;
use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Duration;

/// The proxy's registry and instruments.
pub struct ProxyMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    relay_requests: IntCounterVec,
    first_byte: HistogramVec,
    tokens: IntCounterVec,
    quota: IntCounterVec,
    retries: IntCounterVec,
    circuit: IntGaugeVec,
    streams: IntGauge,
    connections: IntGauge,
    shed: IntCounterVec,
    scheduling_delay: Histogram,
    rate_limited: IntCounterVec,
    billing_anomalies: IntCounterVec,
    balance_resyncs: IntCounterVec,
    key_lookups: IntCounterVec,
    settlement_events: IntCounterVec,
    settlement_queue: IntGauge,
    skipped_rows: IntCounterVec,
}

/// Kinds of `pylon_proxy_billing_anomalies_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingAnomaly {
    /// The real cost exceeded the reservation (charged anyway; the account may go negative).
    Overrun,
    /// The upstream reported usage out of range; the estimate was billed instead.
    UsageOutOfRange,
}

impl BillingAnomaly {
    fn label(self) -> &'static str {
        match self {
            BillingAnomaly::Overrun => "overrun",
            BillingAnomaly::UsageOutOfRange => "usage_out_of_range",
        }
    }
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
        let relay_requests = IntCounterVec::new(
            Opts::new(
                "relay_requests_total",
                "Relayed requests by model, channel and status class",
            ),
            &["model", "channel", "status"],
        )?;
        let first_byte = HistogramVec::new(
            HistogramOpts::new(
                "relay_first_byte_seconds",
                "Time to the first byte of the answer (TTFT for streams)",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["model"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "relay_tokens_total",
                "Tokens billed, by model and kind (prompt, completion)",
            ),
            &["model", "kind"],
        )?;
        let quota = IntCounterVec::new(
            Opts::new("relay_quota_total", "Quota charged, by model"),
            &["model"],
        )?;
        let retries = IntCounterVec::new(
            Opts::new(
                "relay_retries_total",
                "Failed attempts that moved a request to another channel",
            ),
            &["channel"],
        )?;
        let circuit = IntGaugeVec::new(
            Opts::new(
                "relay_channel_circuit",
                "Circuit state per channel: 0 closed, 1 open, 2 half-open",
            ),
            &["channel"],
        )?;
        let streams = IntGauge::new(
            "relay_streams_in_flight",
            "Streamed answers being relayed now",
        )?;
        let shed = IntCounterVec::new(
            Opts::new(
                "relay_shed_total",
                "Requests and connections dropped before any work: overload (answered 503), \
                 client_gone, connections / connections_per_ip (over a cap, answered 503), \
                 header_timeout (a request header not delivered in time)",
            ),
            &["reason"],
        )?;
        let scheduling_delay = Histogram::with_opts(
            HistogramOpts::new(
                "relay_scheduling_delay_seconds",
                "How late a task on the relay's worker runtime ran, sampled every 10 ms: how long \
                 a ready request waits for the CPU (load shedding starts above relay.shed_delay_ms)",
            )
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "relay_rate_limited_total",
                "Requests refused (429) by a rate limit: key (its rpm_limit), user (new-api's \
                 request count) or user_success (its successful request count)",
            ),
            &["scope"],
        )?;
        let billing_anomalies = IntCounterVec::new(
            Opts::new(
                "billing_anomalies_total",
                "Requests billed unusually: overrun (cost above the reservation) or \
                 usage_out_of_range (upstream usage not believed; estimate billed)",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(billing_anomalies.clone()))?;
        let balance_resyncs = IntCounterVec::new(
            Opts::new(
                "balance_resyncs_total",
                "Re-syncs of the shared (Redis) balance counters from the database, by result: \
                 corrected, unchanged, skipped (changed meanwhile), failed",
            ),
            &["result"],
        )?;
        registry.register(Box::new(balance_resyncs.clone()))?;
        let key_lookups = IntCounterVec::new(
            Opts::new(
                "key_lookups_total",
                "Database lookups of keys the key cache did not hold: found, unknown or failed",
            ),
            &["result"],
        )?;
        registry.register(Box::new(key_lookups.clone()))?;
        let settlement_events = IntCounterVec::new(
            Opts::new(
                "settlement_events_total",
                "The settlement writer's events: written (records in the database), \
                 write_failed (a batch the database refused or did not answer), journaled \
                 (records fsync'd to the journal), journal_failed, replayed (records found in \
                 the journal at start), dead_letter (records set aside), backpressure \
                 (requests refused because the queue was full)",
            ),
            &["event"],
        )?;
        registry.register(Box::new(settlement_events.clone()))?;
        let settlement_queue = IntGauge::new(
            "settlement_queue",
            "Finished requests waiting for the database",
        )?;
        registry.register(Box::new(settlement_queue.clone()))?;
        let skipped_rows = pylon_shared::db::skipped_rows_counter()?;
        registry.register(Box::new(skipped_rows.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        registry.register(Box::new(scheduling_delay.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(circuit.clone()))?;
        registry.register(Box::new(streams.clone()))?;
        let connections = IntGauge::new("client_connections", "Open client connections")?;
        registry.register(Box::new(connections.clone()))?;
        for collector in [&requests, &relay_requests, &tokens, &quota, &retries] {
            registry.register(Box::new(collector.clone()))?;
        }
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(first_byte.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            relay_requests,
            first_byte,
            tokens,
            quota,
            retries,
            circuit,
            streams,
            connections,
            shed,
            scheduling_delay,
            rate_limited,
            billing_anomalies,
            balance_resyncs,
            key_lookups,
            settlement_events,
            settlement_queue,
            skipped_rows,
        })
    }

    /// Records a finished request.
    pub fn observe_request(&self, route: Route, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route.label(), status_class(status)])
            .inc();
        self.latency
            .with_label_values(&[route.label()])
            .observe(elapsed.as_secs_f64());
    }

    /// Records a relayed request's outcome.
    pub fn observe_relay(&self, model: &str, channel_id: i64, status: u16) {
        let channel = channel_id.to_string();
        self.relay_requests
            .with_label_values(&[model, channel.as_str(), status_class(status)])
            .inc();
    }

    /// Records the first byte of an answer.
    pub fn first_byte(&self, model: &str, elapsed: Duration) {
        self.first_byte
            .with_label_values(&[model])
            .observe(elapsed.as_secs_f64());
    }

    /// Records billed tokens and quota.
    pub fn tokens(&self, model: &str, prompt: i64, completion: i64, quota: i64) {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        self.tokens
            .with_label_values(&[model, "prompt"])
            .inc_by(count(prompt));
        self.tokens
            .with_label_values(&[model, "completion"])
            .inc_by(count(completion));
        self.quota.with_label_values(&[model]).inc_by(count(quota));
    }

    /// Records a failed attempt that moved to another channel.
    pub fn retry(&self, channel_id: i64) {
        self.retries
            .with_label_values(&[channel_id.to_string().as_str()])
            .inc();
    }

    /// Records a channel's circuit state.
    pub fn circuit(&self, channel_id: i64, state: crate::relay::Circuit) {
        self.circuit
            .with_label_values(&[channel_id.to_string().as_str()])
            .set(state as i64);
    }

    /// Counts a request dropped before any work (`overload` or `client_gone`).
    pub fn shed(&self, reason: &'static str) {
        self.shed.with_label_values(&[reason]).inc();
    }

    /// The histogram of sampled scheduling delays (fed by the overload sampler).
    pub fn scheduling_delay(&self) -> Histogram {
        self.scheduling_delay.clone()
    }

    /// Counts a request refused by a rate limit of `scope`.
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.with_label_values(&[scope]).inc();
    }

    /// Counts a request billed unusually.
    pub fn billing_anomaly(&self, kind: BillingAnomaly) {
        self.billing_anomalies
            .with_label_values(&[kind.label()])
            .inc();
    }

    /// Counts a re-sync of a shared balance counter.
    pub fn balance_resync(&self, result: &'static str) {
        self.balance_resyncs.with_label_values(&[result]).inc();
    }

    /// Counts a database lookup of an uncached key (`found`, `unknown` or `failed`).
    pub fn key_lookup(&self, result: &'static str) {
        self.key_lookups.with_label_values(&[result]).inc();
    }

    /// Counts `count` settlement events of one kind (see `settlement_events_total`).
    pub fn settlement(&self, event: &'static str, count: usize) {
        self.settlement_events
            .with_label_values(&[event])
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// Sets how many finished requests wait for the database.
    pub fn settlement_queue(&self, queued: usize) {
        self.settlement_queue
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
    }

    /// Sets the number of open client connections.
    pub fn client_connections(&self, open: usize) {
        self.connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Counts a stream in flight until the returned guard drops.
    pub fn stream_started(&self) -> StreamGuard {
        self.streams.inc();
        StreamGuard(self.streams.clone())
    }

    fn render(&self) -> Vec<u8> {
        pylon_shared::db::export_skipped_rows(&self.skipped_rows);
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        buffer
    }
}

/// Decrements the in-flight stream gauge when dropped.
pub struct StreamGuard(IntGauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
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
