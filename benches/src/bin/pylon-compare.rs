//! `pylon-compare`: measures Pylon against the nginx floor, a bare Pingora proxy
//! (`pingora-floor`: Pingora's own floor) and LiteLLM on the same mock upstreams in one run and
//! prints one table (see the README's Benchmarks section). Every process it starts is stopped
//! when it ends, fails or is interrupted (Ctrl-C, SIGTERM).

use anyhow::anyhow;
use pylon_benches::compare::{self, Layout, goals, options::Options, report};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            let _ = writeln!(std::io::stdout(), "{}", compare::options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("pylon-compare: {e:#}\n{}", compare::options::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pylon-compare: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> anyhow::Result<()> {
    let layout = Layout::detect()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let comparison = runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        // Dropping the run future on a signal drops every process guard, which stops them.
        tokio::select! {
            result = compare::run(options, &layout) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted; stopped everything it started")),
            _ = terminate.recv() => Err(anyhow!("terminated; stopped everything it started")),
        }
    })?;
    let text = report::markdown(&comparison);
    let dir = layout.output_dir();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("latest.md"), &text)?;
    std::fs::write(
        dir.join("latest.json"),
        serde_json::to_string_pretty(&comparison)?,
    )?;
    if let Some(path) = &options.results {
        // The hand-written history (what changed between runs, profiles) stays below the table.
        let previous = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, report::with_history(&text, &previous))?;
        eprintln!("pylon-compare: wrote {}", path.display());
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", report::table(&comparison))?;
    for kind in [
        compare::results::SystemKind::PylonSqlite,
        compare::results::SystemKind::PylonMysql,
    ] {
        if let Some(system) = comparison.system(kind)
            && system.unavailable.is_none()
        {
            writeln!(stdout, "{} goals:", kind.label())?;
            for goal in goals::goals(&comparison, system) {
                let verdict = match goal.met {
                    Some(true) => "met",
                    Some(false) => "NOT MET",
                    None => "not measured",
                };
                writeln!(stdout, "  [{verdict}] {}: {}", goal.name, goal.detail)?;
            }
        }
    }
    writeln!(
        stdout,
        "\nfull report: {} (and latest.json)",
        dir.join("latest.md").display()
    )?;
    Ok(())
}
