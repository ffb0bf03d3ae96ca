//! Quiet-period debouncing with a cap. Pure: every call takes `now`.

use std::time::{Duration, Instant};

/// Fires `quiet` after the last poke, but never later than `cap` after the first poke of
/// a burst, so that a link flapping forever cannot starve the update.
#[derive(Clone, Debug)]
pub struct Debouncer {
    quiet: Duration,
    cap: Duration,
    burst: Option<(Instant, Instant)>,
}

impl Debouncer {
    pub fn new(quiet: Duration, cap: Duration) -> Debouncer {
        Debouncer {
            quiet,
            cap: cap.max(quiet),
            burst: None,
        }
    }

    pub fn poke(&mut self, now: Instant) {
        let first = self.burst.map_or(now, |(first, _)| first);
        self.burst = Some((first, now));
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.burst
            .map(|(first, last)| (last + self.quiet).min(first + self.cap))
    }

    /// True once, when the deadline has passed; the next poke starts a new burst.
    pub fn fire(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(d) if d <= now => {
                self.burst = None;
                true
            }
            _ => false,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.burst.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn fires_after_quiet_time() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(1000 * MS, 10_000 * MS);
        assert_eq!(d.deadline(), None);
        d.poke(t0);
        assert_eq!(d.deadline(), Some(t0 + 1000 * MS));
        assert!(!d.fire(t0 + 999 * MS));
        assert!(d.fire(t0 + 1000 * MS));
        assert!(!d.fire(t0 + 5000 * MS), "fires once per burst");
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn every_poke_restarts_the_quiet_time() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(1000 * MS, 10_000 * MS);
        // 20 events within a second: one firing, a quiet second after the last.
        for i in 0..20 {
            d.poke(t0 + 50 * i * MS);
            assert!(!d.fire(t0 + 50 * i * MS));
        }
        assert_eq!(d.deadline(), Some(t0 + 1950 * MS));
        assert!(d.fire(t0 + 1950 * MS));
    }

    #[test]
    fn flapping_cannot_starve_it() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(1000 * MS, 3000 * MS);
        let mut fired = vec![];
        // An event every 500 ms for 10 s: never a quiet second.
        for i in 0..=20u32 {
            let now = t0 + 500 * i * MS;
            if d.fire(now) {
                fired.push(500 * i);
            }
            d.poke(now);
        }
        assert_eq!(fired, vec![3000, 6000, 9000]);
    }

    #[test]
    fn zero_quiet_fires_at_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::ZERO, Duration::ZERO);
        d.poke(t0);
        assert!(d.fire(t0));
    }
}
