//! How the process allocator treats large buffers.

/// Size from which every allocation gets its own mapping, returned to the system when freed.
const LARGE_ALLOCATION: i32 = 128 * 1024;

/// Makes glibc serve every allocation of 128 KiB or more with its own mapping, unmapped when
/// freed. By default glibc raises that threshold after the first large free (up to 32 MiB), so
/// later large buffers (a 19 MiB Argon2 hash at each login, a multi-MiB request body) come from
/// the heap and stay resident after they are freed: each login used to leave the control plane
/// 19 MiB larger. Call it first thing in `main` (glibc applies it to every arena).
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters, under the allocator's own lock.
    #[expect(unsafe_code, reason = "the allocator's tuning has no safe interface")]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_ALLOCATION);
    }
}

/// Hands free heap pages back to the system. glibc returns memory only from the top of each
/// heap; chunks freed in the middle stay resident, so after a spike (10 000 streams held at
/// once) the proxy would keep its peak size for good. Cheap when little is free; call it from
/// a blocking thread every few seconds.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system, under the allocator's locks.
    #[expect(unsafe_code, reason = "the allocator's trimming has no safe interface")]
    unsafe {
        libc::malloc_trim(0);
    }
}
