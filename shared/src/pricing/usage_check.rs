//! Usage numbers an upstream reports are checked before they are priced: a negative count or
//! one beyond the configured per-request maximum is not believed (the relay bills its own
//! estimate instead, marked as such), so one absurd report can neither wrap quota arithmetic
//! nor bill a user for 2^63 tokens.

use super::Usage;

/// What the upstream's usage report is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageCheck {
    /// Plausible numbers: bill them.
    Reported(Usage),
    /// No report at all: estimate.
    Missing,
    /// A report out of range: estimate, and say so.
    OutOfRange(Usage),
}

/// Checks `reported` against `0..=max_tokens` for every count.
pub fn check_usage(reported: Option<Usage>, max_tokens: i64) -> UsageCheck {
    let Some(usage) = reported else {
        return UsageCheck::Missing;
    };
    let in_range = |n: i64| (0..=max_tokens).contains(&n);
    if in_range(usage.prompt_tokens)
        && in_range(usage.completion_tokens)
        && in_range(usage.cached_tokens)
        && in_range(usage.cache_creation_tokens)
    {
        UsageCheck::Reported(usage)
    } else {
        UsageCheck::OutOfRange(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: i64, completion: i64, cached: i64) -> Option<Usage> {
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cached_tokens: cached,
            cache_creation_tokens: 0,
            image_output_tokens: 0,
        })
    }

    #[test]
    fn absurd_and_negative_counts_are_out_of_range() {
        assert_eq!(check_usage(None, 100), UsageCheck::Missing);
        assert!(matches!(
            check_usage(usage(10, 100, 0), 100),
            UsageCheck::Reported(_)
        ));
        for bad in [
            usage(i64::MAX, 1, 0),
            usage(10, -1, 0),
            usage(-5, 1, 0),
            usage(1, 1, 101),
            usage(1, 101, 0),
        ] {
            assert!(
                matches!(check_usage(bad, 100), UsageCheck::OutOfRange(_)),
                "{bad:?}"
            );
        }
    }
}
