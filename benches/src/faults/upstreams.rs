//! Upstreams that misbehave, as a share of the load: beside a healthy channel, channels that
//! never send a header, stall mid-answer, cut the answer, answer 500, send garbage, or report
//! absurd usage (2^63−1 prompt tokens, −5 completion tokens). Deadlines are 2 s and the
//! circuit breaker is off, so the faults keep their share of first attempts for the whole run
//! (with it on, a failing channel is taken out after 5 failures).

use super::bench::Bench;
use super::garbage::Garbage;
use super::options::{Backend, Case, Options};
use super::outcome::{Outcome, Result};
use super::report::{Figure, Table};
use super::setup::Channel;
use serde_json::{Value, json};

/// The healthy channel's weight; each faulty one has weight 0 (new-api adds 10 to each).
const HEALTHY_WEIGHT: i64 = 90;

fn faulty(name: &str, base_url: &str, headers: Value) -> Channel {
    Channel {
        name: name.into(),
        base_url: base_url.into(),
        weight: 0,
        headers,
    }
}

/// The channels: healthy, and one per fault.
fn channels(mock: &str, garbage: &str) -> Vec<Channel> {
    vec![
        Channel::healthy(mock, HEALTHY_WEIGHT),
        faulty("no-header", mock, json!({"x-mock-delay-ms": "600000"})),
        faulty(
            "stall",
            mock,
            json!({"x-mock-chunks": "3", "x-mock-chunk-interval-ms": "600000",
                   "x-mock-cut-body-bytes": "20", "x-mock-stall-body-ms": "600000"}),
        ),
        faulty(
            "cut",
            mock,
            json!({"x-mock-abort-after-chunks": "2", "x-mock-cut-body-bytes": "20"}),
        ),
        faulty("error-500", mock, json!({"x-mock-status": "500"})),
        faulty("garbage", garbage, Value::Null),
        faulty(
            "absurd-usage",
            mock,
            json!({"x-mock-usage": "9223372036854775807,-5"}),
        ),
    ]
}

/// Requests (streamed or not) whose answer was cut.
fn cut(outcomes: &[Outcome], stream: bool) -> usize {
    outcomes
        .iter()
        .filter(|o| o.stream == stream && o.result == Result::Cut)
        .count()
}

/// The steady load against the mixed channels.
pub async fn upstreams(backend: Backend, options: &Options) -> anyhow::Result<Table> {
    let garbage = Garbage::start().await?;
    let env = [
        ("PYLON__RELAY__CONNECT_TIMEOUT_SECS", "2".to_string()),
        (
            "PYLON__RELAY__RESPONSE_HEADER_TIMEOUT_SECS",
            "2".to_string(),
        ),
        ("PYLON__RELAY__FIRST_TOKEN_TIMEOUT_SECS", "2".to_string()),
        ("PYLON__RELAY__IDLE_TIMEOUT_SECS", "2".to_string()),
        ("PYLON__RELAY__REQUEST_TIMEOUT_SECS", "20".to_string()),
        ("PYLON__RELAY__CIRCUIT_FAILURES", "1000000000".to_string()),
    ];
    let garbage_url = garbage.base_url();
    let bench = Bench::prepare(backend, Case::Upstreams, options, &env, |mock| {
        channels(mock, &garbage_url)
    })
    .await?;
    let retries_metric = "pylon_proxy_relay_retries_total";
    let load = bench.load();
    let outcomes = load.finish().await?;
    let retries = bench.node.metric(retries_metric).await;
    let (figures, settled) = bench.settle(&outcomes).await?;

    let all = channels("", "");
    let total: i64 = all.iter().map(|c| c.weight + 10).sum();
    let faulty_share = (total - HEALTHY_WEIGHT - 10) as f64 / total as f64;
    let mut table = Table::new(
        "upstreams",
        "upstreams that stall, cut, fail, send garbage or absurd usage, under load",
        backend.label(),
    );
    table
        .add(
            "faulty_share",
            "first attempts sent to a faulty channel (by weight)",
            Figure::Share(faulty_share),
        )
        .add(
            "failed_over",
            "charged requests that failed over (retries > 0)",
            Figure::count(figures.failed_over),
        )
        .add(
            "retries",
            "failed attempts moved to another channel (metric)",
            Figure::Count(retries as u64),
        )
        .add(
            "cut_streamed",
            "streams cut (no [DONE])",
            Figure::count(cut(&outcomes, true)),
        )
        .add(
            "cut_complete",
            "complete answers cut or stalled",
            Figure::count(cut(&outcomes, false)),
        )
        .add(
            "estimated",
            "charges billed on an estimate",
            Figure::count(figures.estimated),
        );
    drop(garbage);
    Ok(bench.finish(table, &outcomes, &figures, settled).await)
}
