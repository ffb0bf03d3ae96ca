//! Retry delays: exponential, capped, jittered from an injected seed. Pure.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            // xorshift must not start at zero.
            rng: seed | 1,
        }
    }

    /// The same random sequence with new limits (a reload).
    pub fn with_limits(&self, initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            rng: self.rng,
        }
    }

    /// The delay before retry number `attempt` (1 for the first retry): `initial * 2^(n-1)`
    /// capped at `max`, less up to 20 % jitter so that many clients do not retry in step.
    /// Never above `max`, never below `floor`.
    pub fn delay(&mut self, attempt: u32, floor: Duration) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let base = self
            .initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let fraction = (self.next() % 1000) as u32; // 0..999 per mille of the 20 % band
        let jitter = base / 5 * fraction / 1000;
        (base - jitter).max(floor)
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn grows_exponentially_within_the_jitter_band_and_caps() {
        let mut b = Backoff::new(30 * S, 3600 * S, 42);
        let mut last = Duration::ZERO;
        for attempt in 1..=12 {
            let d = b.delay(attempt, Duration::ZERO);
            let base = (30 * S * 2u32.pow(attempt - 1)).min(3600 * S);
            assert!(
                d <= base && d >= base * 4 / 5,
                "attempt {attempt}: {d:?} vs {base:?}"
            );
            if base < 3600 * S {
                assert!(d > last, "attempt {attempt} grows");
            }
            last = d;
        }
    }

    #[test]
    fn jitter_varies_with_the_seed() {
        let a: Vec<_> = (1..6)
            .map({
                let mut b = Backoff::new(30 * S, 3600 * S, 1);
                move |n| b.delay(n, Duration::ZERO)
            })
            .collect();
        let b: Vec<_> = (1..6)
            .map({
                let mut b = Backoff::new(30 * S, 3600 * S, 2);
                move |n| b.delay(n, Duration::ZERO)
            })
            .collect();
        assert_ne!(a, b);
    }

    #[test]
    fn the_floor_wins() {
        let mut b = Backoff::new(30 * S, 3600 * S, 7);
        assert_eq!(b.delay(1, 1800 * S), 1800 * S);
        assert!(b.delay(20, 1800 * S) >= 2880 * S);
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = Backoff::new(S, 86_400 * S, 3);
        assert!(b.delay(u32::MAX, Duration::ZERO) <= 86_400 * S);
    }
}
