//! Issue 5's and issue 14's goals, judged from a comparison: each one met, not met or not measured, with the
//! numbers behind the verdict (the reason, when it is missed) and the nginx figures measured
//! on the same setup for context (and, beside the CPU goal, the bare Pingora proxy's: what the
//! framework itself costs).

use super::report::{
    core_busy, cpu_per_request, errors_suffix, int, kib, kinds, max_rps, ms, signed, us,
};
use super::results::{Comparison, SystemKind, SystemResult};
use std::fmt::Write;

/// A direct-to-mock TTFT p99 above this (the mock sends the first token at 200 ms) means the
/// client and mock core is saturated at that stream count: nothing is judged against it.
const SATURATED_TTFT_US: f64 = 250_000.0;

/// A goal's verdict.
pub struct Goal {
    /// What the goal says.
    pub name: &'static str,
    /// Met, not met, or not measured (`None`).
    pub met: Option<bool>,
    /// The numbers behind the verdict (the reason, when missed).
    pub detail: String,
}

/// Issue 5's and issue 14's goals for one Pylon column.
pub fn goals(c: &Comparison, s: &SystemResult) -> Vec<Goal> {
    let direct = c.system(SystemKind::Direct);
    let nginx = c.system(SystemKind::Nginx);
    let floor = c
        .system(SystemKind::PingoraFloor)
        .filter(|f| f.unavailable.is_none());
    let litellm = c.system(SystemKind::LiteLlm);
    let mut goals = Vec::new();

    let pylon_rps = max_rps(s);
    goals.push(match (pylon_rps, nginx.and_then(max_rps)) {
        (Some(p), Some(n)) => {
            let mut detail = format!(
                "{} req/s = {:.0}% of nginx's {} req/s",
                int(p),
                100.0 * p / n,
                int(n)
            );
            if let (Some(busy), Some(nginx)) = (nginx.and_then(core_busy), nginx)
                && busy < 0.8
            {
                let _ = write!(
                    detail,
                    "; but nginx kept its core only {:.0}% busy at its maximum: the floor is \
                     bound by the load client on core 1, not by nginx",
                    busy * 100.0
                );
                if let (Some(pc), Some(nc)) = (cpu_per_request(s), cpu_per_request(nginx)) {
                    let _ = write!(
                        detail,
                        ". By CPU per request ({pc:.0} µs vs nginx's {nc:.0} µs), Pylon on a \
                         saturated core would reach about {:.0}% of nginx",
                        100.0 * nc / pc
                    );
                }
            }
            Goal {
                name: "≥ 70% of nginx's requests/s on one core",
                met: Some(p >= 0.7 * n),
                detail,
            }
        }
        _ => not_measured(
            "≥ 70% of nginx's requests/s on one core",
            "a maximum is missing",
        ),
    });

    let name = "CPU per request ≤ 2× nginx's proxy role (issue 14; first step ≤ 4×)";
    let mut cpu_goal = match (cpu_per_request(s), nginx.and_then(cpu_per_request)) {
        (Some(pc), Some(nc)) => Goal {
            name,
            met: Some(pc <= 2.0 * nc),
            detail: format!(
                "{pc:.0} µs vs nginx's {nc:.0} µs = {:.1}×{}",
                pc / nc,
                if pc <= 4.0 * nc {
                    " (first step met)"
                } else {
                    ""
                }
            ),
        },
        _ => not_measured(name, "a CPU figure is missing"),
    };
    if let Some(floor) = floor.and_then(|f| pingora_floor(s, f)) {
        let _ = write!(cpu_goal.detail, "; {floor}");
    }
    goals.push(cpu_goal);

    let name = "added latency p50 ≤ 100 µs and p99 ≤ 500 µs at half of nginx's max";
    goals.push(match (&s.fixed, &s.fixed_baseline) {
        (Ok(m), Some(b)) => {
            let p50 = m.report.latency_us.p50 - b.report.latency_us.p50;
            let p99 = m.report.latency_us.p99 - b.report.latency_us.p99;
            let same_rate = s.fixed_rate == c.fixed_rate;
            let mut detail = format!(
                "+{p50:.0} µs p50, +{p99:.0} µs p99 at {} req/s ({} vs {} direct){}",
                int(s.fixed_rate.unwrap_or(0.0)),
                us(m.report.latency_us.p99),
                us(b.report.latency_us.p99),
                errors_suffix(m)
            );
            if !same_rate {
                detail.push_str("; the common rate is more than half of its own maximum");
            }
            if let Some(n) = nginx
                && let (Ok(nm), Some(nb)) = (&n.fixed, &n.fixed_baseline)
            {
                let _ = write!(
                    detail,
                    "; nginx adds +{:.0} µs p50, +{:.0} µs p99 on the same setup",
                    nm.report.latency_us.p50 - nb.report.latency_us.p50,
                    nm.report.latency_us.p99 - nb.report.latency_us.p99
                );
            }
            Goal {
                name,
                met: Some(same_rate && p50 <= 100.0 && p99 <= 500.0 && m.report.errors == 0),
                detail,
            }
        }
        (Err(e), _) => not_measured(name, e),
        _ => not_measured(name, "no direct baseline"),
    });

    let name = "TTFT added p99 ≤ 2 ms with chunk timing preserved";
    let mut parts = Vec::new();
    let mut met = None;
    for (level, outcome) in &s.streams {
        let base = direct.and_then(|d| d.streams_at(*level));
        match (outcome, base) {
            (Ok(m), Some(b)) => {
                let (Some(t), Some(bt), Some(g), Some(bg)) = (
                    m.report.ttft_us,
                    b.report.ttft_us,
                    m.report.chunk_gap_us,
                    b.report.chunk_gap_us,
                ) else {
                    parts.push(format!("{level} streams: no stream timings"));
                    met = Some(false);
                    continue;
                };
                if bt.p99 > SATURATED_TTFT_US {
                    let nginx_note = nginx
                        .and_then(|n| n.streams_at(*level))
                        .and_then(|n| n.report.ttft_us.zip(n.report.chunk_gap_us))
                        .map_or(String::new(), |(nt, ng)| {
                            format!(
                                " (nginx: TTFT p99 {}, chunk gap p50 / p99 {} / {})",
                                ms(nt.p99),
                                ms(ng.p50),
                                ms(ng.p99)
                            )
                        });
                    parts.push(format!(
                        "{level} streams: not judged, direct-to-mock is itself saturated there \
                         (TTFT p99 {}: the client and mock core is the bottleneck); measured TTFT \
                         p99 {}, chunk gap p50 / p99 {} / {}{nginx_note}, {} errors",
                        ms(bt.p99),
                        ms(t.p99),
                        ms(g.p50),
                        ms(g.p99),
                        m.report.errors
                    ));
                    continue;
                }
                let ttft = t.p99 - bt.p99;
                let gap50 = g.p50 - bg.p50;
                let gap99 = g.p99 - bg.p99;
                let chunks_ok = match (m.report.chunks_per_stream, b.report.chunks_per_stream) {
                    (Some(c), Some(bc)) => c.min >= bc.min,
                    _ => false,
                };
                let ok = ttft <= 2000.0
                    && gap50.abs() <= 1000.0
                    && gap99 <= 2000.0
                    && chunks_ok
                    && m.report.errors == 0;
                met = Some(met.unwrap_or(true) && ok);
                let nginx_ttft = nginx
                    .and_then(|n| n.streams_at(*level))
                    .and_then(|n| n.report.ttft_us)
                    .map_or(String::new(), |n| {
                        format!(" (nginx {})", signed(n.p99 - bt.p99, ms))
                    });
                parts.push(format!(
                    "{level} streams: TTFT p99 {}{nginx_ttft}, chunk gap p50 {:+.2} ms / p99 {:+.2} ms vs \
                     direct, chunks per stream {}, {} errors",
                    signed(ttft, ms),
                    gap50 / 1000.0,
                    gap99 / 1000.0,
                    if chunks_ok {
                        "all there"
                    } else {
                        "missing or merged"
                    },
                    m.report.errors
                ));
            }
            (Err(e), _) => {
                met = Some(false);
                parts.push(format!("{level} streams failed: {e}"));
            }
            _ => parts.push(format!("{level} streams: no direct baseline")),
        }
    }
    goals.push(Goal {
        name,
        met,
        detail: if parts.is_empty() {
            "not measured".into()
        } else {
            parts.join("; ")
        },
    });

    let name = "≤ 64 KiB per open stream and idle RSS under 30 MiB";
    goals.push(match (&s.long, s.idle_rss_kib) {
        (Ok(l), Some(idle)) => {
            let per = l.bytes_per_stream();
            Goal {
                name,
                met: Some(per <= 64.0 * 1024.0 && idle < 30 * 1024),
                detail: format!(
                    "{:.1} KiB per stream over {} held streams, idle RSS {} (both processes)",
                    per / 1024.0,
                    int(l.streams as f64),
                    kib(idle)
                ),
            }
        }
        (Err(e), _) => not_measured(name, e),
        _ => not_measured(name, "no idle RSS"),
    });

    let name = "10 000 concurrent streams all complete";
    goals.push(match &s.long {
        Ok(l) => {
            let r = &l.run.report;
            let complete = l.all_complete(Some(f64::from(c.long_chunks)));
            let detail = format!(
                "{}/{} completed, {} errors{}, chunks per stream {}",
                int(r.ok as f64),
                int(l.streams as f64),
                r.errors,
                kinds(&r.error_kinds),
                r.chunks_per_stream
                    .map_or("—".into(), |c| format!("{:.0}–{:.0}", c.min, c.max))
            );
            if l.streams < 10_000 {
                let why = if c.limits.is_empty() {
                    "this run".to_string()
                } else {
                    "this machine's open-file limit (see above)".to_string()
                };
                Goal {
                    name,
                    met: None,
                    detail: format!(
                        "only {} held, capped by {why}; {}: {detail}",
                        int(l.streams as f64),
                        if complete {
                            "all complete"
                        } else {
                            "NOT all complete"
                        }
                    ),
                }
            } else {
                Goal {
                    name,
                    met: Some(complete),
                    detail,
                }
            }
        }
        Err(e) => not_measured(name, e),
    });

    let name = "≥ 20× LiteLLM's requests/s";
    goals.push(match (pylon_rps, litellm.and_then(max_rps)) {
        (Some(p), Some(l)) => Goal {
            name,
            met: Some(p >= 20.0 * l),
            detail: format!("{} vs {} req/s = {:.1}×", int(p), int(l), p / l),
        },
        _ => not_measured(name, "a maximum is missing"),
    });
    goals
}

/// Pylon beside the bare Pingora proxy on the same setup, CPU per request and memory per held
/// stream: the part of the gap to nginx that is the framework's. `None` when the floor has
/// neither figure.
fn pingora_floor(s: &SystemResult, floor: &SystemResult) -> Option<String> {
    let per_stream = |r: &SystemResult| r.long.as_ref().ok().map(|l| l.bytes_per_stream() / 1024.0);
    let mut parts = Vec::new();
    if let Some(fc) = cpu_per_request(floor) {
        let pylon = cpu_per_request(s).map_or(String::new(), |pc| {
            format!(" (Pylon {pc:.0} µs = {:.1}× it)", pc / fc)
        });
        parts.push(format!("{fc:.0} µs per request{pylon}"));
    }
    if let Some(fm) = per_stream(floor) {
        let pylon = per_stream(s).map_or(String::new(), |pm| format!(" (Pylon {pm:.0} KiB)"));
        parts.push(format!("{fm:.0} KiB per held stream{pylon}"));
    }
    if parts.is_empty() {
        None
    } else {
        Some(format!("Pingora's own floor here: {}", parts.join(", ")))
    }
}

fn not_measured(name: &'static str, why: &str) -> Goal {
    Goal {
        name,
        met: None,
        detail: why.to_string(),
    }
}
