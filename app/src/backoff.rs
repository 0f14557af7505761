//! When to sync next: a steady interval while things work, and after failures (offline, server errors, "try
//! later") an exponentially growing wait with jitter, so many devices coming back at once do not arrive together.

use std::time::Duration;

use rand::Rng;

/// The first wait after a failure.
const FIRST: Duration = Duration::from_secs(2);
/// The longest wait.
const MAX: Duration = Duration::from_secs(5 * 60);

/// The wait after `failures` consecutive failed syncs (0: the steady `interval`), before jitter.
pub fn base_delay(failures: u32, interval: Duration) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 1u32 << (failures - 1).min(16);
    FIRST.saturating_mul(factor).min(MAX)
}

/// [`base_delay`] spread by ±20 %.
pub fn delay(failures: u32, interval: Duration) -> Duration {
    let base = base_delay(failures, interval);
    let spread = rand::thread_rng().gen_range(0.8..=1.2);
    base.mul_f64(spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_after_failures_up_to_a_cap() {
        let steady = Duration::from_secs(30);
        assert_eq!(base_delay(0, steady), steady);
        assert_eq!(base_delay(1, steady), Duration::from_secs(2));
        assert_eq!(base_delay(2, steady), Duration::from_secs(4));
        assert_eq!(base_delay(5, steady), Duration::from_secs(32));
        assert_eq!(base_delay(9, steady), MAX);
        assert_eq!(base_delay(u32::MAX, steady), MAX);
        let mut last = Duration::ZERO;
        for f in 1..40 {
            let d = base_delay(f, steady);
            assert!(d >= last);
            last = d;
        }
    }

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..100 {
            let d = delay(3, Duration::from_secs(30));
            assert!(d >= Duration::from_millis(6_400) && d <= Duration::from_millis(9_600), "{d:?}");
        }
    }
}
