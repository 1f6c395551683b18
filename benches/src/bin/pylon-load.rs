//! `pylon-load`: the load client. Drives a chat-completions URL on a loopback address in a
//! closed or open loop and prints one JSON report (`--json`) or a short summary. Runs on one
//! thread so that the comparison runner can pin it to a core. Exit code 2 on bad arguments.

use pylon_benches::load::{self, USAGE};
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let args = match load::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            writeln!(std::io::stdout(), "{USAGE}")?;
            return Ok(());
        }
        Err(e) => {
            eprintln!("pylon-load: {e:#}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(load::run(&args.config))?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", report.human())?;
    }
    stdout.flush()?;
    Ok(())
}
