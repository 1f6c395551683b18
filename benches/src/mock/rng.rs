//! Cheap, lock-free randomness for error injection, jitter and response ids (no `rand`
//! dependency; quality only needs to be "not obviously patterned").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static STATE: AtomicU64 = AtomicU64::new(0);

/// The next pseudo-random number (splitmix64 over a shared counter seeded from the clock).
pub(crate) fn next_u64() -> u64 {
    let mut seed = STATE.load(Ordering::Relaxed);
    if seed == 0 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        // Whoever wins the race seeds; the loser just uses the winner's state.
        let _ = STATE.compare_exchange(0, nanos | 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// True with probability `p` (0..=1).
pub(crate) fn chance(p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    // 53 random bits as a float in [0, 1).
    ((next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
}

/// A uniform number in `0..=max`.
pub(crate) fn up_to(max: u64) -> u64 {
    if max == 0 { 0 } else { next_u64() % (max + 1) }
}

/// A provider-style id: `prefix` followed by 24 random alphanumerics.
pub(crate) fn id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(prefix.len() + 24);
    out.push_str(prefix);
    for _ in 0..2 {
        let mut bits = next_u64();
        for _ in 0..12 {
            out.push(ALPHABET[(bits % ALPHABET.len() as u64) as usize] as char);
            bits /= ALPHABET.len() as u64;
        }
    }
    out
}

/// Seconds since the Unix epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chance_bounds_and_ids() {
        assert!(!chance(0.0));
        assert!(chance(1.0));
        assert!((0..100).all(|_| up_to(5) <= 5));
        let a = id("chatcmpl-");
        assert_eq!(a.len(), "chatcmpl-".len() + 24);
        assert_ne!(a, id("chatcmpl-"));
    }
}
