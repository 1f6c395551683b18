//! What the client saw of one request of the load, and the figures drawn from many of them
//! (failed by kind, answered around an instant, first success after an instant, percentiles).
//! Times are offsets from the start of the load.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// How one request ended at the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Result {
    /// 200 and the whole answer (a stream ended by `data: [DONE]`).
    Ok,
    /// An answer with another status.
    Status(u16),
    /// 200, then the body was cut or a stream ended without `[DONE]`.
    Cut,
    /// 200 and a whole body that is not a chat completion.
    BadBody,
    /// No connection (refused).
    Connect,
    /// Connected, then closed or reset before an answer.
    Reset,
    /// No complete answer within the client's timeout.
    Timeout,
}

impl Result {
    /// A short name for tables and JSON (`ok`, `503`, `cut`, `connect`, `timeout`).
    pub fn label(self) -> String {
        match self {
            Result::Ok => "ok".into(),
            Result::Status(status) => status.to_string(),
            Result::Cut => "cut".into(),
            Result::BadBody => "bad-body".into(),
            Result::Connect => "connect".into(),
            Result::Reset => "reset".into(),
            Result::Timeout => "timeout".into(),
        }
    }
}

/// One request of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Its source address: unique per request, so its log row (which records the client
    /// address) names it.
    pub ip: Ipv4Addr,
    /// Index of the key it used.
    pub key: usize,
    /// Streamed or not.
    pub stream: bool,
    /// When it was sent.
    pub started: Duration,
    /// When it ended (answer complete, or failed).
    pub ended: Duration,
    /// How it ended.
    pub result: Result,
}

/// Requests per result label, e.g. `{"ok": 4480, "503": 12, "connect": 8}`.
pub fn by_result(outcomes: &[Outcome]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome.result.label()).or_insert(0) += 1;
    }
    counts
}

/// Requests that did not end `Ok`.
pub fn failed(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.result != Result::Ok).count()
}

/// Requests in flight at `at` (sent before, ended after): (completed, failed).
pub fn in_flight_at(outcomes: &[Outcome], at: Duration) -> (usize, usize) {
    let in_flight = outcomes.iter().filter(|o| o.started <= at && o.ended > at);
    in_flight.fold((0, 0), |(ok, failed), o| {
        if o.result == Result::Ok {
            (ok + 1, failed)
        } else {
            (ok, failed + 1)
        }
    })
}

/// When the first request sent at or after `at` that completed ended, as a time after `at`:
/// how long the service took to answer again.
pub fn first_ok_after(outcomes: &[Outcome], at: Duration) -> Option<Duration> {
    outcomes
        .iter()
        .filter(|o| o.started >= at && o.result == Result::Ok)
        .map(|o| o.ended.saturating_sub(at))
        .min()
}

/// When the first request sent at or after `at` that ended with `result` ended, after `at`.
pub fn first_after(outcomes: &[Outcome], at: Duration, result: Result) -> Option<Duration> {
    outcomes
        .iter()
        .filter(|o| o.started >= at && o.result == result)
        .map(|o| o.ended.saturating_sub(at))
        .min()
}

/// Requests sent inside `[from, to)`.
pub fn sent_between(outcomes: &[Outcome], from: Duration, to: Duration) -> Vec<Outcome> {
    outcomes
        .iter()
        .filter(|o| o.started >= from && o.started < to)
        .copied()
        .collect()
}

/// The `q` quantile (0..=1, nearest rank) of the latencies of completed requests.
pub fn ok_latency_quantile(outcomes: &[Outcome], q: f64) -> Option<Duration> {
    let mut latencies: Vec<Duration> = outcomes
        .iter()
        .filter(|o| o.result == Result::Ok)
        .map(|o| o.ended.saturating_sub(o.started))
        .collect();
    quantile(&mut latencies, q)
}

/// The `q` quantile (0..=1, nearest rank) of `samples` (sorted in place).
pub fn quantile(samples: &mut [Duration], q: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = (q.clamp(0.0, 1.0) * samples.len() as f64).ceil() as usize;
    samples.get(rank.saturating_sub(1)).copied()
}

/// The fraction (0..=1) of `outcomes` that completed; 0 for none.
pub fn success_rate(outcomes: &[Outcome]) -> f64 {
    if outcomes.is_empty() {
        return 0.0;
    }
    (outcomes.len() - failed(outcomes)) as f64 / outcomes.len() as f64
}
