//! `pylon-faults`: the heavy fault scenarios of issue 10 under load, on SQLite and on
//! MySQL + Redis, with one table of figures per case (see `pylon_benches::faults`).
//!
//! Run: `cargo build --workspace --all-targets` then
//! `target/debug/pylon-faults --bin-dir target/debug [--backend sqlite|mysql|both]
//! [--cases kill9,sigterm,redis,database,slow,upstreams] [--rate N] [--duration SECS]`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line benchmark: its report is its output"
)]

use pylon_benches::faults::options::Options;
use pylon_benches::faults::run_case;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("{error:#}");
            std::process::exit(2);
        }
    };
    sqlx::any::install_default_drivers();
    println!(
        "pylon-faults: {} requests/s for {:.0} s per case over {} keys, binaries in {}",
        options.rate,
        options.duration.as_secs_f64(),
        options.keys,
        options.bin_dir.display()
    );
    let mut failures = 0;
    for backend in &options.backends {
        for case in options.cases.iter().filter(|c| c.runs_on(*backend)) {
            match run_case(*case, *backend, &options).await {
                Ok(table) => {
                    println!("\n{}", table.text());
                    println!("{}", table.json_line());
                }
                Err(error) => {
                    failures += 1;
                    eprintln!(
                        "\n{} on {}: failed: {error:#}",
                        case.name(),
                        backend.label()
                    );
                }
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} case(s) could not be measured");
    }
    Ok(())
}
