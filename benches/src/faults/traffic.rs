//! The steady load: an open loop of chat completions at a fixed rate, every other one
//! streamed, spread over the keys. Each request comes from a source address of its own
//! (127.16.0.0 onwards: loopback answers for all of 127.0.0.0/8), which its log row records,
//! so that [`super::ledger`] can match it with its charges. A connection per request, as many
//! clients behind a gateway would open.

use super::outcome::{Outcome, Result};
use super::setup::MODEL;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The first source address of the load.
const FIRST_IP: Ipv4Addr = Ipv4Addr::new(127, 16, 0, 0);

/// What to send.
#[derive(Debug, Clone)]
pub struct Load {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub keys: Vec<String>,
    /// Requests per second.
    pub rate: f64,
    pub duration: Duration,
    /// The client's whole-request timeout.
    pub timeout: Duration,
    /// The number of the first request (its source address): a load that follows another on
    /// the same node starts after the other's last, so that every request keeps its own.
    pub first: u32,
}

/// The source address of request `n`.
pub fn source_ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(FIRST_IP) + n)
}

/// The number of the request whose source address is `ip` (`None` for other addresses).
pub fn request_number(ip: &str) -> Option<u32> {
    let ip: Ipv4Addr = ip.parse().ok()?;
    u32::from(ip).checked_sub(u32::from(FIRST_IP))
}

/// A load under way.
pub struct Running {
    /// When it began: every [`Outcome`] time is an offset from here.
    pub t0: Instant,
    driver: tokio::task::JoinHandle<Vec<Outcome>>,
}

impl Running {
    /// Time since the load began.
    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Sleeps until `at` after the load began.
    pub async fn until(&self, at: Duration) {
        tokio::time::sleep_until((self.t0 + at).into()).await;
    }

    /// Waits for the schedule to end and every request to finish.
    pub async fn finish(self) -> anyhow::Result<Vec<Outcome>> {
        let mut outcomes = self.driver.await?;
        outcomes.sort_by_key(|o| o.started);
        Ok(outcomes)
    }
}

/// Starts the load.
pub fn start(load: Load) -> Running {
    let t0 = Instant::now();
    let driver = tokio::spawn(drive(load, t0));
    Running { t0, driver }
}

async fn drive(load: Load, t0: Instant) -> Vec<Outcome> {
    let load = Arc::new(load);
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    let interval = Duration::from_secs_f64(1.0 / load.rate);
    for n in 0u32.. {
        let due = interval * n;
        if due >= load.duration {
            break;
        }
        tokio::time::sleep_until((t0 + due).into()).await;
        let (load, outcomes) = (Arc::clone(&load), Arc::clone(&outcomes));
        tasks.spawn(async move {
            let outcome = one(&load, n, t0).await;
            outcomes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(outcome);
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut outcomes = outcomes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *outcomes)
}

/// Request `n`: key `n % keys`, streamed when `n` is even.
async fn one(load: &Load, n: u32, t0: Instant) -> Outcome {
    let n = load.first + n;
    let key = n as usize % load.keys.len();
    let stream = n.is_multiple_of(2);
    let ip = source_ip(n);
    let started = t0.elapsed();
    let result = exchange(load, &load.keys[key], stream, ip).await;
    Outcome {
        ip,
        key,
        stream,
        started,
        ended: t0.elapsed(),
        result,
    }
}

async fn exchange(load: &Load, key: &str, stream: bool, ip: Ipv4Addr) -> Result {
    let client = match reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(0)
        .connect_timeout(Duration::from_secs(5))
        .timeout(load.timeout)
        .build()
    {
        Ok(client) => client,
        Err(_) => return Result::Connect,
    };
    let body = json!({
        "model": MODEL, "stream": stream, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say something about faults."}],
    });
    let answer = match client
        .post(format!("{}/v1/chat/completions", load.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(error) => return send_error(&error),
    };
    let status = answer.status().as_u16();
    if status != 200 {
        // Read the error body so the connection ends cleanly; its content does not matter.
        let _ = answer.bytes().await;
        return Result::Status(status);
    }
    match answer.bytes().await {
        Ok(bytes) => judge(stream, &bytes),
        Err(error) if error.is_timeout() => Result::Timeout,
        Err(_) => Result::Cut,
    }
}

fn send_error(error: &reqwest::Error) -> Result {
    if error.is_timeout() {
        Result::Timeout
    } else if error.is_connect() {
        Result::Connect
    } else {
        Result::Reset
    }
}

/// Whether a 200's whole body is a complete answer: a stream ending in `data: [DONE]`, or a
/// chat completion with choices.
pub fn judge(stream: bool, body: &[u8]) -> Result {
    if stream {
        let text = String::from_utf8_lossy(body);
        return if text.trim_end().ends_with("data: [DONE]") {
            Result::Ok
        } else {
            Result::Cut
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(answer) if answer["choices"].is_array() => Result::Ok,
        _ => Result::BadBody,
    }
}
