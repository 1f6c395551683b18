//! The load client end to end against the mock upstream: closed and open loops, streamed and
//! not, through the library and through the `pylon-load` binary's JSON contract.

use pylon_benches::load::{BodyFormat, JSON_KEYS, LoadConfig, Mode, Report, run};
use pylon_benches::mock::{MockConfig, MockUpstream};
use std::time::Duration;

const TTFT_MS: u64 = 30;
const CHUNKS: u32 = 5;
const INTERVAL_MS: u64 = 5;

async fn mock() -> anyhow::Result<MockUpstream> {
    MockUpstream::start(MockConfig {
        ttft_ms: TTFT_MS,
        chunks: CHUNKS,
        chunk_interval_ms: INTERVAL_MS,
        record: false,
        ..MockConfig::default()
    })
    .await
}

fn chat_url(mock: &MockUpstream) -> String {
    format!("{}/v1/chat/completions", mock.base_url())
}

fn config(mock: &MockUpstream, mode: Mode, secs: f64) -> anyhow::Result<LoadConfig> {
    LoadConfig::new(&chat_url(mock), mode, Duration::from_secs_f64(secs))
}

/// What every clean run satisfies.
fn assert_clean(report: &Report) {
    assert!(report.requests > 0, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.ok, report.requests);
    assert!(report.error_kinds.is_empty(), "{report:?}");
    assert!(report.duration_s > 0.0);
    assert!((report.rps - report.ok as f64 / report.duration_s).abs() < 1e-6);
    let l = &report.latency_us;
    assert!(l.p50 > 0 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max);
    assert!(report.ttfb_us.p50 <= l.max);
}

/// What every clean streamed run against the mock satisfies.
fn assert_stream_timings(report: &Report) {
    let (Some(ttft), Some(chunks), Some(gap)) = (
        &report.ttft_us,
        &report.chunks_per_stream,
        &report.chunk_gap_us,
    ) else {
        unreachable!("a stream report has ttft, chunks and gaps: {report:?}");
    };
    let floor = TTFT_MS * 1000;
    assert!(
        ttft.p50 >= floor,
        "ttft {ttft:?} below the mock's {TTFT_MS} ms"
    );
    assert!(
        report.latency_us.p50 >= floor + (u64::from(CHUNKS) - 1) * INTERVAL_MS * 1000,
        "{report:?}"
    );
    assert_eq!(
        (chunks.min, chunks.max),
        (u64::from(CHUNKS), u64::from(CHUNKS))
    );
    // Loose upper bound: CI machines are busy.
    assert!(
        gap.p50 >= INTERVAL_MS * 1000 / 2 && gap.p50 < INTERVAL_MS * 1000 * 10,
        "gap {gap:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_plain() {
    let mock = mock().await.unwrap();
    let report = run(&config(&mock, Mode::Closed { concurrency: 4 }, 1.0).unwrap())
        .await
        .unwrap();
    assert_clean(&report);
    assert_eq!(report.mode, "closed");
    assert_eq!(report.late_starts, 0);
    assert!(report.ttft_us.is_none() && report.chunk_gap_us.is_none());
    assert!(report.chunks_per_stream.is_none());
    // Plain answers ignore the ttft knob: requests are fast, so there are many.
    assert!(report.requests > 50, "{report:?}");
    assert!(
        report.duration_s >= 1.0 && report.duration_s < 2.0,
        "{report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_stream() {
    let mock = mock().await.unwrap();
    let mut config = config(&mock, Mode::Closed { concurrency: 8 }, 1.0).unwrap();
    config.stream = true;
    config.body_bytes = 4096;
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_stream_timings(&report);
    // Each worker needs about ttft + 4 intervals = 50 ms per stream.
    assert!(
        report.requests >= 8 * 5 && report.requests <= 8 * 22,
        "{report:?}"
    );
}

/// `--format anthropic`: messages to `/v1/messages` (the mock answers as Anthropic does and
/// refuses a body that is not a message), streams timed by their text deltas and ended by
/// `message_stop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_anthropic_stream() {
    let mock = mock().await.unwrap();
    let url = format!("{}/v1/messages", mock.base_url());
    let mut config = LoadConfig::new(
        &url,
        Mode::Closed { concurrency: 4 },
        Duration::from_secs(1),
    )
    .unwrap();
    config.format = BodyFormat::Anthropic;
    config.stream = true;
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_stream_timings(&report);
    config.stream = false;
    let report = run(&config).await.unwrap();
    assert_clean(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_plain_keeps_the_rate_and_skips_the_warmup() {
    let mock = mock().await.unwrap();
    let mut config = config(&mock, Mode::open(200.0), 1.0).unwrap();
    config.warmup = Duration::from_millis(500);
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.mode, "open");
    // 200/s for 1 s measured; the 100 warm-up requests reached the mock but are not counted.
    // A busy machine may stall the schedule a few times; each stall costs a few slots.
    assert!((170..=201).contains(&report.requests), "{report:?}");
    assert!(
        (260..=301).contains(&mock.request_count()),
        "{}",
        mock.request_count()
    );
    assert!(report.late_starts <= 10, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_stream() {
    let mock = mock().await.unwrap();
    let mut config = config(&mock, Mode::open(100.0), 1.5).unwrap();
    config.stream = true;
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_stream_timings(&report);
    assert!((125..=151).contains(&report.requests), "{report:?}");
    // The last streams finish after the schedule ends.
    assert!(report.duration_s >= 1.5 + 0.04, "{report:?}");
}

/// A server slower than the offered rate: requests wait for one of the bounded connections,
/// and that wait is in their latency (no coordinated omission).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_latency_includes_queueing() {
    let mock = mock().await.unwrap();
    let mut config = config(
        &mock,
        Mode::Open {
            rate: 40.0,
            max_in_flight: 1,
        },
        0.5,
    )
    .unwrap();
    // One connection, 50 ms per answer: 20/s served of 40/s offered.
    config.headers = vec![("x-mock-delay-ms".into(), "50".into())];
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 20, "{report:?}");
    // Request i is released at 25i ms and answered at 50(i + 1) ms: 50 + 25i ms of latency,
    // although each answer took 50 ms.
    assert!(report.latency_us.max >= 500_000, "{report:?}");
    assert!(report.latency_us.p50 >= 250_000, "{report:?}");
    assert!(report.duration_s >= 0.9, "{report:?}");

    // The timeout covers the wait, so a stuck server cannot hold the run for long.
    config.headers = vec![("x-mock-delay-ms".into(), "2000".into())];
    config.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let report = run(&config).await.unwrap();
    assert_eq!(report.ok, 0, "{report:?}");
    assert_eq!(report.error_kinds.get("timeout"), Some(&report.requests));
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_requests_bounds_the_run() {
    let mock = mock().await.unwrap();
    let mut config = config(&mock, Mode::Closed { concurrency: 3 }, 10.0).unwrap();
    config.max_requests = 20;
    let report = run(&config).await.unwrap();
    assert_clean(&report);
    assert_eq!(report.requests, 20);
    assert!(report.duration_s < 5.0, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_kind() {
    let mock = mock().await.unwrap();
    let mut failing = config(&mock, Mode::Closed { concurrency: 2 }, 0.3).unwrap();
    failing.headers = vec![("x-mock-status".into(), "503".into())];
    let report = run(&failing).await.unwrap();
    assert!(report.requests > 0 && report.ok == 0, "{report:?}");
    assert_eq!(report.error_kinds.get("http_5xx"), Some(&report.errors));

    let mut cut = config(&mock, Mode::open(50.0), 0.3).unwrap();
    cut.stream = true;
    cut.headers = vec![("x-mock-abort-after-chunks".into(), "2".into())];
    let report = run(&cut).await.unwrap();
    assert!(report.requests > 0 && report.ok == 0, "{report:?}");
    assert_eq!(report.error_kinds.get("body"), Some(&report.errors));

    let mut slow = config(&mock, Mode::Closed { concurrency: 2 }, 0.3).unwrap();
    slow.headers = vec![("x-mock-delay-ms".into(), "500".into())];
    slow.timeout = Duration::from_millis(100);
    let report = run(&slow).await.unwrap();
    assert!(report.requests > 0 && report.ok == 0, "{report:?}");
    assert_eq!(report.error_kinds.get("timeout"), Some(&report.errors));

    // A port nobody listens on: take a free one and close it again.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut refused = LoadConfig::new(
        &format!("http://127.0.0.1:{port}/v1/chat/completions"),
        Mode::Closed { concurrency: 1 },
        Duration::from_secs(10),
    )
    .unwrap();
    refused.max_requests = 5;
    let report = run(&refused).await.unwrap();
    assert_eq!((report.requests, report.ok), (5, 0), "{report:?}");
    assert_eq!(report.error_kinds.get("connect"), Some(&5));
}

/// The binary prints exactly one JSON object with the contract's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_the_json_contract() {
    let mock = mock().await.unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_pylon-load"))
        .args([
            "--url",
            &chat_url(&mock),
            "--key",
            "sk-test",
            "--mode",
            "closed",
            "--concurrency",
            "4",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--stream",
            "--body-bytes",
            "1000",
            "--json",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let value: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let object = value.as_object().unwrap();
    for key in JSON_KEYS {
        assert!(object.contains_key(*key), "{key} missing: {stdout}");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(value["ttft_us"][key].is_number(), "{key}: {stdout}");
    }
    let report: Report = serde_json::from_value(value).unwrap();
    assert_clean(&report);
    assert_stream_timings(&report);

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_pylon-load"))
        .args([
            "--url",
            "http://192.0.2.1/",
            "--mode",
            "closed",
            "--concurrency",
            "1",
        ])
        .args(["--duration", "1", "--json"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("loopback"));
}
