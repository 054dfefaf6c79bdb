//! Spacing retries: exponential backoff with a cap, spread by random jitter so that many sidecars do not retry
//! in step.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// The delay before a retry: `base` doubled for each earlier retry, never more than `max`.
///
/// `attempt` counts retries from 0: attempt 0 waits `base`, 1 waits `2 * base`, 2 waits `4 * base`, and so
/// on until `max`. Spread the result with [`with_jitter`] so that many sidecars do not retry in step.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(Duration::MAX).min(max)
}

/// Spreads a delay by a random factor: `unit_random` in `[0, 1]` maps to `[d / 2, d]`.
///
/// The result never exceeds `d`, so a capped [`backoff`] stays capped, and never falls below half of it.
/// The caller supplies the random number, which keeps this function deterministic in tests. Values outside
/// `[0, 1]` are clamped; NaN counts as 0.
pub fn with_jitter(d: Duration, unit_random: f64) -> Duration {
    let r = if unit_random.is_nan() {
        0.0
    } else {
        unit_random.clamp(0.0, 1.0)
    };
    d.mul_f64(0.5 + r / 2.0)
}

/// A number in `[0, 1)` that differs between processes and calls, for [`with_jitter`]; `RandomState` is seeded
/// from the OS, which is all the randomness jitter needs.
pub fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(std::time::SystemTime::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        let delays: Vec<u64> = (0..8).map(|a| backoff(a, base, max).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, base, max), max);
        assert_eq!(
            backoff(40, Duration::from_secs(u64::MAX / 2), Duration::MAX),
            Duration::MAX
        );
        assert_eq!(
            backoff(0, base, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(backoff(3, Duration::ZERO, max), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let d = Duration::from_secs(100);
        assert_eq!(with_jitter(d, 0.0), Duration::from_secs(50));
        assert_eq!(with_jitter(d, 0.5), Duration::from_secs(75));
        assert_eq!(with_jitter(d, 1.0), d);
        assert_eq!(with_jitter(d, -3.0), Duration::from_secs(50));
        assert_eq!(with_jitter(d, 7.0), d);
        assert_eq!(with_jitter(d, f64::NAN), Duration::from_secs(50));
        assert_eq!(with_jitter(Duration::ZERO, 0.3), Duration::ZERO);
        let capped = backoff(20, Duration::from_secs(1), Duration::from_secs(60));
        assert!(with_jitter(capped, 0.999) <= Duration::from_secs(60));
    }

    #[test]
    fn unit_random_stays_below_one() {
        for _ in 0..1000 {
            let r = unit_random();
            assert!((0.0..1.0).contains(&r), "{r}");
        }
    }
}
