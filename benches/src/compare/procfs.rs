//! What `/proc` says about a system under test (a process and all its descendants, e.g.
//! pylon-proxy and its pylon-control-plane, or nginx's master and worker): CPU time and
//! resident memory; and about the machine (cores, CPU model, RAM).

use std::collections::BTreeSet;

/// Kernel clock ticks per second (`getconf CLK_TCK`), 100 on every Linux this runs on.
const DEFAULT_CLK_TCK: f64 = 100.0;

/// A process tree, identified by its root process.
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    /// The root process id.
    pub root: u32,
}

impl Tree {
    /// The root and every living descendant.
    pub fn pids(&self) -> Vec<u32> {
        let mut seen = BTreeSet::new();
        let mut queue = vec![self.root];
        while let Some(pid) = queue.pop() {
            if !seen.insert(pid) {
                continue;
            }
            queue.extend(children(pid));
        }
        seen.into_iter().collect()
    }

    /// User plus system CPU time of every process of the tree, in microseconds.
    pub fn cpu_us(&self) -> u64 {
        let ticks: u64 = self.pids().into_iter().filter_map(cpu_ticks).sum();
        (ticks as f64 * 1e6 / clk_tck()) as u64
    }

    /// Sum of `VmRSS` of the tree, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_sum("VmRSS:")
    }

    /// Sum of `VmHWM` (each process's peak resident set) of the tree, in KiB.
    pub fn peak_kib(&self) -> u64 {
        self.status_sum("VmHWM:")
    }

    fn status_sum(&self, field: &str) -> u64 {
        self.pids()
            .into_iter()
            .filter_map(|pid| status_kib(pid, field))
            .sum()
    }
}

/// Children of `pid`, whichever of its threads started them.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// utime + stime of `pid` (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn clk_tck() -> f64 {
    use std::sync::OnceLock;
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(DEFAULT_CLK_TCK)
    })
}

/// The machine: cores, CPU model and RAM.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    /// Online cores.
    pub cores: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// MemTotal in MiB.
    pub ram_mib: u64,
    /// The kernel (`uname -r`).
    pub kernel: String,
}

/// Describes this machine.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // Counted from /proc/cpuinfo: this process is pinned to one core, which
    // available_parallelism would report.
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count()
        .max(1);
    Machine {
        cores,
        cpu,
        ram_mib: ram_kib / 1024,
        kernel,
    }
}

/// Whether other build or test work is running (rustc, cargo build/nextest/clippy), which would
/// disturb the measurements.
pub fn machine_busy() -> Option<String> {
    let rustc = pgrep(&["-x", "rustc"]);
    let cargo = pgrep(&["-f", "cargo (build|nextest|clippy)"]);
    match (rustc, cargo) {
        (0, 0) => None,
        (r, c) => Some(format!(
            "{r} rustc and {c} cargo build/nextest/clippy processes"
        )),
    }
}

fn pgrep(args: &[&str]) -> usize {
    let own = std::process::id().to_string();
    std::process::Command::new("pgrep")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.trim() != own)
                .count()
        })
        .unwrap_or(0)
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}
