//! The report: one Markdown table (systems as columns), the goals of issue 5 (from
//! [`super::goals`]) marked met or not met, and the run's context (machine, versions, date,
//! parameters). The same text goes to stdout, target/pylon-compare/latest.md and, with
//! `--results`, to benches/RESULTS.md.

use super::goals::goals;
use super::load::{Measured, Percentiles};
use super::results::{Comparison, Outcome, SystemKind, SystemResult};
use std::fmt::Write;

/// The heading of the hand-written part of a results file, kept when the file is rewritten.
pub const HISTORY_HEADING: &str = "## History";

/// A new report followed by the history section of the `previous` results file, if it had one.
pub fn with_history(report: &str, previous: &str) -> String {
    let history = previous
        .match_indices(HISTORY_HEADING)
        .find(|(at, _)| *at == 0 || previous[..*at].ends_with('\n'))
        .map(|(at, _)| &previous[at..]);
    match history {
        Some(history) => format!("{}\n\n{}", report.trim_end(), history.trim_end()) + "\n",
        None => report.to_string(),
    }
}

/// The whole Markdown report of a comparison.
pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let mode = if c.quick {
        "`--quick` run (subset, shorter runs)"
    } else {
        "full run"
    };
    let _ = writeln!(out, "# Pylon benchmark results\n");
    let _ = writeln!(
        out,
        "Produced by `pylon-compare` ({mode}) on {}, in {:.0} s. Regenerate with \
         `cargo run --release -p pylon-benches --bin pylon-compare -- --results benches/RESULTS.md`.\n",
        c.date, c.wall_s
    );
    let _ = writeln!(
        out,
        "- Machine: {} cores, {}, {} MiB RAM, Linux {}",
        c.machine.cores, c.machine.cpu, c.machine.ram_mib, c.machine.kernel
    );
    for (name, version) in &c.versions {
        let _ = writeln!(out, "- {name}: {version}");
    }
    if c.busy.is_empty() {
        let _ = writeln!(
            out,
            "- The machine was otherwise quiet (no rustc or cargo build/test seen during the run)."
        );
    } else {
        let _ = writeln!(
            out,
            "- **Other work was running during the run** (numbers may be low): {}",
            c.busy.join("; ")
        );
    }
    for limit in &c.limits {
        let _ = writeln!(out, "- Limit of this machine: {limit}");
    }
    let _ = writeln!(out, "\n## Results\n");
    out.push_str(&table(c));
    let _ = writeln!(out, "\n## Goals (issues 5 and 14)\n");
    for kind in [SystemKind::PylonSqlite, SystemKind::PylonMysql] {
        let Some(system) = c.system(kind) else {
            continue;
        };
        let _ = writeln!(out, "### {}\n", kind.label());
        if let Some(why) = &system.unavailable {
            let _ = writeln!(out, "Not measured: {why}\n");
            continue;
        }
        for goal in goals(c, system) {
            let verdict = match goal.met {
                Some(true) => "**met**",
                Some(false) => "**not met**",
                None => "**not measured**",
            };
            let _ = writeln!(out, "- {verdict}: {}: {}", goal.name, goal.detail);
        }
        let _ = writeln!(out);
    }
    out.push_str(&conversion(c));
    let _ = writeln!(out, "## How it was measured\n");
    if let Some(rate) = c.fixed_rate {
        let _ = writeln!(
            out,
            "- fixed rate: {rate:.0} req/s = {}",
            c.fixed_rate_source
        );
    }
    for (name, text) in &c.parameters {
        let _ = writeln!(out, "- {name}: {text}");
    }
    let _ = writeln!(
        out,
        "- CPU per request: utime + stime from /proc/<pid>/stat of the system's whole process \
         tree (Pylon: proxy + control plane; nginx: master + worker; Pingora (bare proxy): its one \
         process) over the best search step, \
         divided by its requests. RSS: VmRSS (idle, held streams) and VmHWM (peak) summed over \
         the tree."
    );
    let _ = writeln!(
        out,
        "\n### Maximum-rate search steps (connections: req/s, p99, errors)\n"
    );
    for system in &c.systems {
        if let Ok(max) = &system.max {
            let steps: Vec<String> = max
                .steps
                .iter()
                .map(|(n, rps, p99, errors)| {
                    format!("{n}: {} / {} / {errors}", int(*rps), us(*p99))
                })
                .collect();
            let _ = writeln!(out, "- {}: {}", system.kind.label(), steps.join("; "));
        }
    }
    out
}

/// Anthropic clients on the OpenAI channel beside OpenAI clients, per Pylon system: CPU per
/// request, median latency and, for streams, time to first token.
fn conversion(c: &Comparison) -> String {
    let mut out = String::new();
    let measured: Vec<_> = [SystemKind::PylonSqlite, SystemKind::PylonMysql]
        .into_iter()
        .filter_map(|kind| c.system(kind))
        .filter(|s| s.conversion.is_ok())
        .collect();
    if measured.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "## Conversion: Anthropic clients on an OpenAI channel (issue 11)\n\n\
         The same load in both formats on the same system, one after the other: `POST \
         /v1/messages` is converted to a chat completion for the mock and the answer back to \
         Anthropic's (streams event by event).\n\n\
         | system | run | CPU µs/req OpenAI → Anthropic | p50 latency OpenAI → Anthropic | \
         TTFT p50 OpenAI → Anthropic |\n|---|---|---|---|---|"
    );
    let cpu = |m: &Measured| {
        m.cpu_us_per_request
            .map_or("n/a".into(), |v| format!("{v:.0}"))
    };
    let ttft = |m: &Measured| m.report.ttft_us.map_or("n/a".into(), |p| us(p.p50));
    for system in measured {
        let Ok(conversion) = &system.conversion else {
            continue;
        };
        let label = system.kind.label();
        if let Ok(openai) = &system.fixed {
            let anthropic = &conversion.json;
            let _ = writeln!(
                out,
                "| {label} | small JSON, open loop | {} → {} | {} → {} | |",
                cpu(openai),
                cpu(anthropic),
                us(openai.report.latency_us.p50),
                us(anthropic.report.latency_us.p50),
            );
        }
        if let Some((concurrency, anthropic)) = &conversion.stream
            && let Some(openai) = system.streams_at(*concurrency)
        {
            let _ = writeln!(
                out,
                "| {label} | {concurrency} streams | {} → {} | {} → {} | {} → {} |",
                cpu(openai),
                cpu(anthropic),
                us(openai.report.latency_us.p50),
                us(anthropic.report.latency_us.p50),
                ttft(openai),
                ttft(anthropic),
            );
        }
    }
    let _ = writeln!(out);
    out
}

/// The table: one row per measure, one column per system, footnotes for failures.
pub fn table(c: &Comparison) -> String {
    let mut notes: Vec<String> = Vec::new();
    let direct = c.system(SystemKind::Direct);
    let nginx_rps = c.system(SystemKind::Nginx).and_then(max_rps);
    let litellm_rps = c.system(SystemKind::LiteLlm).and_then(max_rps);
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row =
        |title: String, cell: &mut dyn FnMut(&SystemResult, &mut Vec<String>) -> String| {
            let cells = c
                .systems
                .iter()
                .map(|s| {
                    if s.unavailable.is_some() {
                        "—".to_string()
                    } else {
                        cell(s, &mut notes)
                    }
                })
                .collect();
            rows.push((title, cells));
        };

    row("not run".into(), &mut |_, _| String::new());
    row(
        "max req/s at p99 < 10 ms (connections)".into(),
        &mut |s, n| match &s.max {
            Ok(m) if m.within_bound => format!("{} ({})", int(m.rps), m.concurrency),
            Ok(m) => {
                let i = note(
                    n,
                    s,
                    "no search step had p99 < 10 ms; the best step regardless",
                );
                format!("{}* ({}) [{i}]", int(m.rps), m.concurrency)
            }
            Err(e) => failed(n, s, "max rate", e),
        },
    );
    row("req/s vs nginx".into(), &mut |s, _| {
        ratio(max_rps(s), nginx_rps, 2)
    });
    row("req/s vs LiteLLM".into(), &mut |s, _| {
        ratio(max_rps(s), litellm_rps, 1)
    });
    row("CPU µs per request (at max)".into(), &mut |s, _| {
        cpu_per_request(s).map_or("—".into(), |v| format!("{v:.0}"))
    });
    row("core 0 busy at max".into(), &mut |s, _| {
        core_busy(s).map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
    });
    let rate = c.fixed_rate.map_or("—".into(), int);
    row(
        format!("added latency p50 / p99 at {rate} req/s"),
        &mut |s, n| match (&s.fixed, s.kind) {
            (Ok(m), SystemKind::Direct) => format!(
                "{} / {} (absolute)",
                us(m.report.latency_us.p50),
                us(m.report.latency_us.p99)
            ),
            (Ok(m), _) if m.report.ok == 0 => no_success(m),
            (Ok(m), _) => {
                let base = s.fixed_baseline.as_ref().map(|b| b.report.latency_us);
                let mut text = added(m.report.latency_us, base, us);
                if s.fixed_rate != c.fixed_rate {
                    let _ = write!(text, " at {} req/s", int(s.fixed_rate.unwrap_or(0.0)));
                }
                text + &errors_suffix(m)
            }
            (Err(e), _) => failed(n, s, "fixed rate", e),
        },
    );
    let stream_levels: Vec<usize> = c
        .systems
        .iter()
        .flat_map(|s| s.streams.iter().map(|(n, _)| *n))
        .fold(Vec::new(), |mut v, n| {
            if !v.contains(&n) {
                v.push(n);
            }
            v
        });
    for level in stream_levels {
        let base = direct
            .and_then(|d| d.streams_at(level))
            .and_then(|m| m.report.ttft_us);
        row(
            format!("TTFT added p50 / p99, {level} streams"),
            &mut |s, n| match s.streams.iter().find(|(l, _)| *l == level) {
                Some((_, Ok(m))) if s.kind == SystemKind::Direct => {
                    m.report.ttft_us.map_or("—".into(), |t| {
                        format!("{} / {} (absolute)", ms(t.p50), ms(t.p99))
                    })
                }
                Some((_, Ok(m))) if m.report.ok == 0 => no_success(m),
                Some((_, Ok(m))) => match m.report.ttft_us {
                    Some(t) => added(t, base, ms) + &errors_suffix(m),
                    None => "—".into(),
                },
                Some((_, Err(e))) => failed(n, s, &format!("{level} streams"), e),
                None => "—".into(),
            },
        );
        row(
            format!("chunk gap p50 / p99, chunks per stream, {level} streams"),
            &mut |s, _| match s.streams_at(level) {
                Some(m) if m.report.ok == 0 => "—".into(),
                Some(m) => {
                    let gap = m
                        .report
                        .chunk_gap_us
                        .map_or("—".into(), |g| format!("{} / {}", ms(g.p50), ms(g.p99)));
                    let chunks = m.report.chunks_per_stream.map_or("—".into(), |c| {
                        if c.min == c.max {
                            format!("{:.0}", c.min)
                        } else {
                            format!("{:.0}–{:.0}", c.min, c.max)
                        }
                    });
                    format!("{gap}, {chunks}")
                }
                None => "—".into(),
            },
        );
    }
    row("idle RSS".into(), &mut |s, _| {
        s.idle_rss_kib.map_or("—".into(), kib)
    });
    row("peak RSS (whole run)".into(), &mut |s, _| {
        s.peak_rss_kib.map_or("—".into(), kib)
    });
    row(
        "memory per held stream (completed)".into(),
        &mut |s, n| match &s.long {
            Ok(l) => {
                format!(
                    "{} ({}/{})",
                    kib((l.bytes_per_stream() / 1024.0).round() as u64),
                    int(l.run.report.ok as f64),
                    int(l.streams as f64)
                ) + &errors_suffix(&l.run)
            }
            Err(e) => failed(n, s, "held streams", e),
        },
    );
    row(
        "1 MiB bodies: req/s, p99".into(),
        &mut |s, n| match &s.big {
            Ok(m) if m.report.ok == 0 => no_success(m),
            Ok(m) => {
                format!("{}, {}", int(m.report.rps), us(m.report.latency_us.p99))
                    + &errors_suffix(m)
            }
            Err(e) => failed(n, s, "1 MiB bodies", e),
        },
    );
    row(
        "overload 2× max: ok req/s, errors, p99, peak RSS (growth)".into(),
        &mut |s, n| match &s.overload {
            Ok(o) => {
                let r = &o.run.report;
                let late = if r.late_starts > 0 {
                    format!(" ({} started late)", int(r.late_starts as f64))
                } else {
                    String::new()
                };
                format!(
                    "{} of {} offered{late}, {} errors{}, {}, {}",
                    int(r.rps),
                    int(o.offered_rps),
                    int(r.errors as f64),
                    kinds(&r.error_kinds),
                    us(r.latency_us.p99),
                    match (o.run.peak_rss_kib, o.run.rss_before_kib) {
                        (Some(peak), Some(before)) => format!(
                            "{} (+{} during it)",
                            kib(peak),
                            kib(peak.saturating_sub(before))
                        ),
                        (peak, _) => peak.map_or("—".into(), kib),
                    }
                )
            }
            Err(e) => failed(n, s, "overload", e),
        },
    );
    row(
        "after overload: req/s (recovered)".into(),
        &mut |s, _| match &s.overload {
            Ok(o) => format!(
                "{} = {:.0}% ({})",
                int(o.recovery.report.rps),
                100.0 * o.recovery.report.rps / o.max_rps.max(1.0),
                if o.recovered() { "yes" } else { "no" }
            ),
            Err(_) => "—".into(),
        },
    );
    row(
        "first channel 500: req/s, p99, errors, retries".into(),
        &mut |s, n| match &s.retries {
            Ok(r) => format!(
                "{}, {}, {}, {}",
                int(r.run.report.rps),
                us(r.run.report.latency_us.p99),
                r.run.report.errors,
                r.retries.map_or("—".into(), int)
            ),
            Err(e) => failed(n, s, "retries", e),
        },
    );
    row("errors (all but overload)".into(), &mut |s, _| {
        int(total_errors(s) as f64)
    });

    // The "not run" row only when something was not run.
    let not_run: Vec<String> = c
        .systems
        .iter()
        .map(|s| match &s.unavailable {
            Some(why) => {
                notes.push(format!("{}: not run: {why}", s.kind.label()));
                format!("not run [{}]", notes.len())
            }
            None => String::new(),
        })
        .collect();
    if not_run.iter().all(String::is_empty) {
        rows.remove(0);
    } else {
        rows[0].1 = not_run;
    }

    let mut out = String::new();
    let _ = write!(out, "| |");
    for s in &c.systems {
        let _ = write!(out, " {} |", s.kind.label());
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|{}", "---|".repeat(c.systems.len()));
    for (title, cells) in rows {
        let _ = writeln!(out, "| {title} | {} |", cells.join(" | "));
    }
    let mut system_notes = Vec::new();
    for s in &c.systems {
        for n in &s.notes {
            system_notes.push(format!("{}: {n}", s.kind.label()));
        }
    }
    if !notes.is_empty() || !system_notes.is_empty() {
        let _ = writeln!(out);
        for (i, n) in notes.iter().enumerate() {
            let _ = writeln!(out, "{}. {n}", i + 1);
        }
        for n in system_notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

/// CPU µs per request of the best search step.
pub(super) fn cpu_per_request(s: &SystemResult) -> Option<f64> {
    s.max.as_ref().ok().and_then(|m| m.best.cpu_us_per_request)
}

/// Share of one core the system used at its maximum (CPU per request × requests/s).
pub(super) fn core_busy(s: &SystemResult) -> Option<f64> {
    Some(cpu_per_request(s)? * max_rps(s)? / 1e6)
}

pub(super) fn max_rps(s: &SystemResult) -> Option<f64> {
    s.max.as_ref().ok().map(|m| m.rps)
}

fn total_errors(s: &SystemResult) -> u64 {
    let of = |o: &Outcome<Measured>| o.as_ref().map_or(0, |m| m.report.errors);
    of(&s.fixed)
        + of(&s.big)
        + s.streams.iter().map(|(_, o)| of(o)).sum::<u64>()
        + s.long.as_ref().map_or(0, |l| l.run.report.errors)
        + s.retries.as_ref().map_or(0, |r| r.run.report.errors)
}

fn note(notes: &mut Vec<String>, s: &SystemResult, text: &str) -> usize {
    notes.push(format!("{}: {text}", s.kind.label()));
    notes.len()
}

fn failed(notes: &mut Vec<String>, s: &SystemResult, what: &str, why: &str) -> String {
    if why == "n/a" {
        return "—".into();
    }
    let i = note(notes, s, &format!("{what}: {why}"));
    format!("failed [{i}]")
}

fn ratio(value: Option<f64>, of: Option<f64>, decimals: usize) -> String {
    match (value, of) {
        (Some(v), Some(o)) if o > 0.0 => format!("{:.*}×", decimals, v / o),
        _ => "—".into(),
    }
}

fn added(value: Percentiles, base: Option<Percentiles>, unit: fn(f64) -> String) -> String {
    match base {
        Some(b) => format!(
            "{} / {}",
            signed(value.p50 - b.p50, unit),
            signed(value.p99 - b.p99, unit)
        ),
        None => format!("{} / {} (absolute)", unit(value.p50), unit(value.p99)),
    }
}

pub(super) fn signed(v: f64, unit: fn(f64) -> String) -> String {
    if v < 0.0 {
        format!("−{}", unit(-v))
    } else {
        format!("+{}", unit(v))
    }
}

/// A run where nothing succeeded: its percentiles are empty, show its errors instead.
fn no_success(m: &Measured) -> String {
    format!(
        "no request succeeded ({} errors{})",
        m.report.errors,
        kinds(&m.report.error_kinds)
    )
}

pub(super) fn errors_suffix(m: &Measured) -> String {
    if m.report.errors == 0 {
        String::new()
    } else {
        format!(
            " ({} errors{})",
            m.report.errors,
            kinds(&m.report.error_kinds)
        )
    }
}

pub(super) fn kinds(kinds: &std::collections::BTreeMap<String, u64>) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    let list: Vec<String> = kinds.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(": {}", list.join(", "))
}

/// A count with thin grouping: 12 345 (one decimal under 10).
pub fn int(v: f64) -> String {
    if v > 0.0 && v < 9.95 {
        return format!("{v:.1}");
    }
    let n = v.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// Microseconds, shown as µs or ms.
pub fn us(v: f64) -> String {
    if v.abs() < 1000.0 {
        format!("{v:.0} µs")
    } else {
        format!("{:.2} ms", v / 1000.0)
    }
}

/// Microseconds, always shown in ms.
pub fn ms(v: f64) -> String {
    format!("{:.2} ms", v / 1000.0)
}

/// KiB, shown as KiB or MiB.
pub fn kib(v: u64) -> String {
    if v < 1024 {
        format!("{v} KiB")
    } else {
        format!("{:.1} MiB", v as f64 / 1024.0)
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn the_history_section_survives_a_new_report() {
        let previous = "# Old\n| table |\n\n## History\n\n- run 1: notes\n";
        let merged = with_history("# New\n| new table |\n", previous);
        assert_eq!(
            merged,
            "# New\n| new table |\n\n## History\n\n- run 1: notes\n"
        );
        assert_eq!(with_history("# New\n", "# Old, no history\n"), "# New\n");
        assert_eq!(with_history("# New\n", ""), "# New\n");
    }
}

#[cfg(test)]
mod baseline_tests {
    use super::*;
    use crate::compare::load::LoadReport;
    use crate::compare::procfs::Machine;
    use crate::compare::results::{LongStreams, MaxThroughput};

    fn run(ok: u64, rps: f64, cpu: Option<f64>) -> Measured {
        Measured {
            report: LoadReport {
                requests: ok,
                ok,
                rps,
                ..LoadReport::default()
            },
            cpu_us_per_request: cpu,
            ..Measured::default()
        }
    }

    /// A system with a maximum of `rps` at `cpu` µs per request and `held_kib` per held stream.
    fn system(kind: SystemKind, rps: f64, cpu: f64, held_kib: u64) -> SystemResult {
        let mut s = SystemResult::new(kind);
        s.version = format!("{} test", kind.label());
        s.idle_rss_kib = Some(10_000);
        s.max = Ok(MaxThroughput {
            rps,
            concurrency: 16,
            within_bound: true,
            best: run(1000, rps, Some(cpu)),
            steps: vec![(16, rps, 900.0, 0)],
        });
        s.long = Ok(LongStreams {
            streams: 1000,
            rss_before_kib: 10_000,
            rss_open_kib: 10_000 + held_kib * 1000,
            run: run(1000, 100.0, None),
        });
        s
    }

    fn comparison(floor: SystemResult) -> Comparison {
        Comparison {
            quick: true,
            date: "2026-12-06 16:00 UTC".into(),
            machine: Machine {
                cores: 2,
                cpu: "test cpu".into(),
                ram_mib: 4096,
                kernel: "6.1".into(),
            },
            commit: "abc".into(),
            fixed_rate: None,
            fixed_rate_source: String::new(),
            busy: Vec::new(),
            wall_s: 100.0,
            systems: vec![
                SystemResult::new(SystemKind::Direct),
                system(SystemKind::Nginx, 20_000.0, 11.0, 18),
                floor,
                system(SystemKind::PylonSqlite, 10_000.0, 42.0, 70),
            ],
            parameters: Vec::new(),
            long_streams_planned: 1000,
            long_streams_held: 1000,
            limits: Vec::new(),
            long_chunks: 6,
            versions: Vec::new(),
        }
    }

    #[test]
    fn the_bare_pingora_proxy_is_a_column_after_nginx_with_its_ratio_to_nginx() {
        let c = comparison(system(SystemKind::PingoraFloor, 16_000.0, 24.0, 62));
        let text = markdown(&c);
        assert!(
            text.contains("| | direct (mock) | nginx | Pingora (bare proxy) | Pylon (SQLite) |"),
            "{text}"
        );
        assert!(
            text.contains("| req/s vs nginx | — | 1.00× | 0.80× | 0.50× |"),
            "{text}"
        );
        assert!(
            text.contains("| CPU µs per request (at max) | — | 11 | 24 | 42 |"),
            "{text}"
        );
        assert!(
            text.contains("| memory per held stream (completed) | — | 18 KiB (1 000/1 000) | 62 KiB (1 000/1 000) | 70 KiB (1 000/1 000) |"),
            "{text}"
        );
        assert!(
            text.contains("- Pingora (bare proxy): 16: 16 000 / 900 µs / 0"),
            "{text}"
        );
    }

    #[test]
    fn the_cpu_goal_sets_pylon_beside_the_pingora_floor() {
        let c = comparison(system(SystemKind::PingoraFloor, 16_000.0, 24.0, 62));
        let text = markdown(&c);
        assert!(
            text.contains(
                "- **not met**: CPU per request ≤ 2× nginx's proxy role (issue 14; first step ≤ \
                 4×): 42 µs vs nginx's 11 µs = 3.8× (first step met); Pingora's own floor here: \
                 24 µs per request (Pylon 42 µs = 1.8× it), 62 KiB per held stream (Pylon 70 KiB)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_skipped_pingora_floor_is_not_run_and_left_out_of_the_goals() {
        let mut floor = SystemResult::new(SystemKind::PingoraFloor);
        floor.unavailable = Some("skipped (--skip pingora)".into());
        let text = markdown(&comparison(floor));
        assert!(
            text.contains("| not run |  |  | not run [1] |  |"),
            "{text}"
        );
        assert!(
            text.contains("1. Pingora (bare proxy): not run: skipped (--skip pingora)"),
            "{text}"
        );
        assert!(
            text.contains("42 µs vs nginx's 11 µs = 3.8× (first step met)\n"),
            "{text}"
        );
        assert!(!text.contains("Pingora's own floor"), "{text}");
    }
}
