//! Summaries of latency samples: min, median, nearest-rank p95, max.

use std::time::Duration;

pub struct Stats {
    pub n: usize,
    pub min: Duration,
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
}

pub fn stats(v: &[Duration]) -> Option<Stats> {
    let mut s = v.to_vec();
    s.sort_unstable();
    let n = s.len();
    if n == 0 {
        return None;
    }
    // Nearest rank: the smallest sample with at least 95 % of them at or below it.
    let p95 = s[(n * 95).div_ceil(100).clamp(1, n) - 1];
    Some(Stats {
        n,
        min: s[0],
        median: (s[(n - 1) / 2] + s[n / 2]) / 2,
        p95,
        max: s[n - 1],
    })
}
