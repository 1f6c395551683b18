//! Figures of this process as the operating system and the allocator report them, for the
//! operators' performance page: resident memory, threads, open files, the heap the allocator
//! holds, and the space left on a file system.

use std::path::Path;

/// What `/proc/self/status` says of the process (zeros where it is not available).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident set (`VmRSS`), bytes.
    pub resident_bytes: u64,
    /// Largest resident set so far (`VmHWM`), bytes.
    pub peak_resident_bytes: u64,
    /// Threads of the process.
    pub threads: u64,
}

/// Reads `/proc/self/status`.
pub fn process_memory() -> ProcessMemory {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| parse_status(&status))
        .unwrap_or_default()
}

fn parse_status(status: &str) -> ProcessMemory {
    let mut memory = ProcessMemory::default();
    for line in status.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let number = value
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        match name {
            "VmRSS" => memory.resident_bytes = number * 1024,
            "VmHWM" => memory.peak_resident_bytes = number * 1024,
            "Threads" => memory.threads = number,
            _ => {}
        }
    }
    memory
}

/// How many files (sockets included) the process holds open.
pub fn open_files() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count() as u64)
}

/// The heap as the allocator reports it (`None` where it cannot: not glibc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapUsage {
    /// Bytes handed out and not freed.
    pub in_use_bytes: u64,
    /// Bytes the allocator holds from the system (in use or free).
    pub held_bytes: u64,
}

/// glibc's `mallinfo2`.
pub fn heap_usage() -> Option<HeapUsage> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters, under its own locks.
        #[expect(
            unsafe_code,
            reason = "the allocator's counters have no safe interface"
        )]
        let info = unsafe { libc::mallinfo2() };
        Some(HeapUsage {
            in_use_bytes: (info.uordblks + info.hblkhd) as u64,
            held_bytes: (info.arena + info.hblkhd) as u64,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

/// Space of the file system holding `path`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiskSpace {
    pub total: u64,
    /// Available to the process (not reserved for root).
    pub free: u64,
    pub used: u64,
    pub used_percent: f64,
}

/// `statvfs` of `path` (`None` when it cannot be read).
pub fn disk_space(path: &Path) -> Option<DiskSpace> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: an all-zero statvfs is a valid value of the plain C struct.
        #[expect(unsafe_code, reason = "statvfs has no safe interface in std")]
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is a NUL-terminated string and `stat` a valid struct to fill.
        #[expect(unsafe_code, reason = "statvfs has no safe interface in std")]
        let done = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
        if done != 0 {
            return None;
        }
        let block = stat.f_frsize as u64;
        let total = stat.f_blocks as u64 * block;
        let free = stat.f_bavail as u64 * block;
        let used = total.saturating_sub(stat.f_bfree as u64 * block);
        let used_percent = if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        };
        Some(DiskSpace {
            total,
            free,
            used,
            used_percent,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether the process runs in a container (Docker's marker file, or a container's control
/// group), as new-api tells.
pub fn in_container() -> bool {
    Path::new("/.dockerenv").exists()
        || std::fs::read_to_string("/proc/1/cgroup").is_ok_and(|groups| {
            ["docker", "kubepods", "containerd", "lxc"]
                .iter()
                .any(|marker| groups.contains(marker))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_bytes() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t7\n";
        assert_eq!(
            parse_status(status),
            ProcessMemory {
                resident_bytes: 1024 * 1024,
                peak_resident_bytes: 2048 * 1024,
                threads: 7,
            }
        );
    }

    #[test]
    fn this_process_has_figures() {
        let memory = process_memory();
        assert!(memory.resident_bytes > 0 && memory.threads >= 1);
        assert!(open_files() >= 3);
        let space = disk_space(Path::new("/")).unwrap();
        assert!(space.total >= space.used && space.total > 0);
    }
}
