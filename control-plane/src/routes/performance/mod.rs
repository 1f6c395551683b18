//! new-api's performance page (`/api/performance/*`, root only), answered with this control
//! plane process's own figures:
//!
//! - `GET /stats`: new-api's shape (`cache_stats`, `memory_stats`, `disk_cache_info`,
//!   `disk_space_info`, `config`) plus `process` (uptime, threads, open files, resident memory,
//!   database pool). Memory comes from glibc's allocator counters and `/proc/self`; `num_gc`
//!   counts the trims `POST /gc` ran; `num_goroutine` is the runtime's live tasks.
//! - `POST /gc`: Rust has no collector; the nearest real act is handing the allocator's free
//!   pages back to the system (`malloc_trim`), and the answer says how much resident memory
//!   that returned.
//! - `POST /reset_stats`: zeroes the counters these routes keep (trims and bytes returned).
//! - `DELETE /disk_cache`, `GET|DELETE /logs`: Pylon keeps request bodies in memory (no disk
//!   cache) and logs to stderr (no log files), so these answer as new-api does with its disk
//!   cache and file logging off.

pub(super) mod disk_cache;
pub(super) mod gc;
pub(super) mod logs;
pub(super) mod stats;

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of these routes, for this process.
struct Counters {
    /// Trims run by `POST /gc`.
    trims: AtomicU64,
    /// Resident bytes they returned to the system.
    returned_bytes: AtomicU64,
}

static COUNTERS: Counters = Counters {
    trims: AtomicU64::new(0),
    returned_bytes: AtomicU64::new(0),
};

impl Counters {
    fn record_trim(&self, returned: u64) {
        self.trims.fetch_add(1, Ordering::Relaxed);
        self.returned_bytes.fetch_add(returned, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.trims.store(0, Ordering::Relaxed);
        self.returned_bytes.store(0, Ordering::Relaxed);
    }
}
