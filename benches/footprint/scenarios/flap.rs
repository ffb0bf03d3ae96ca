//! A flap: many changes within a second, and the requests that follow. The peers run
//! it too.

use std::net::Ipv4Addr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Running;
use crate::provider::Provider;
use crate::wan::{Link, Wan};

/// Changes of a flap.
pub const FLAP_CHANGES: usize = 20;
/// Spacing of a flap's changes: 20 of them span 0.855 s.
pub const FLAP_STEP: Duration = Duration::from_millis(45);

#[derive(Clone, Debug)]
pub struct Flap {
    pub span: Duration,
    /// The address each request carried.
    pub sent: Vec<String>,
    pub last: Ipv4Addr,
    /// Last change → the request carrying the last address.
    pub latency: Option<Duration>,
}

impl Flap {
    pub fn ok(&self) -> bool {
        self.sent.len() == 1 && self.sent[0] == self.last.to_string()
    }
}

/// `FLAP_CHANGES` changes, `FLAP_STEP` apart; then waits `wait` for a request and
/// `settle` more for any other.
pub fn flap(
    wan: &mut Wan,
    provider: &Provider,
    first: usize,
    wait: Duration,
    settle: Duration,
) -> Flap {
    let before = provider.count();
    let start = Instant::now();
    let mut last = start;
    for k in 0..FLAP_CHANGES {
        sleep((start + FLAP_STEP * k as u32).saturating_duration_since(Instant::now()));
        last = wan.change(first + k);
    }
    let span = last - start;
    provider.wait_for(before + 1, wait);
    sleep(settle);
    let reqs = provider.requests();
    let after = &reqs[before..];
    let final_ip = wan.address().to_string();
    Flap {
        span,
        sent: after
            .iter()
            .map(|r| r.param("myip").unwrap_or("?").to_string())
            .collect(),
        last: wan.address(),
        latency: after
            .iter()
            .find(|r| r.param("myip") == Some(final_ip.as_str()))
            .map(|r| r.at.saturating_duration_since(last)),
    }
}

/// A flap on a bridge, default debounce.
pub fn dynhost_flap(bin: &Path) -> Flap {
    let mut run = Running::start(bin, Wan::create(Link::Bridge), "flap", None);
    sleep(Duration::from_millis(500));
    let f = flap(
        &mut run.wan,
        &run.provider,
        1,
        Duration::from_secs(15),
        Duration::from_secs(3),
    );
    assert!(run.agent.stop().success(), "dynhost exited with an error");
    f
}
