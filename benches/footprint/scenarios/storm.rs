//! Storms of address events on an interface no record follows, and the CPU they cost.

use std::net::Ipv4Addr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Running;
use crate::netlink::V4;
use crate::netns::bridge;
use crate::proc::{memory, ms_of_ticks, sample};
use crate::wan::{Link, Wan, if_index};

/// Changes on the followed interface in the middle of the mixed storm.
pub const STORM_FOLLOWED: usize = 10;
/// Pause between paced storm events.
pub const STORM_PACE: Duration = Duration::from_micros(250);

#[derive(Clone, Debug)]
pub struct StormPhase {
    /// Notifications the kernel sent for the unfollowed interface (seen by our monitor).
    pub events: usize,
    pub cpu_ms: f64,
    pub run_ns: u64,
    pub wall: Duration,
    /// Addresses carried by the requests sent during the phase.
    pub sent: Vec<String>,
    /// The followed interface's final address, when it changed during the phase.
    pub followed_last: Option<Ipv4Addr>,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub monitor_overrun: bool,
}

impl StormPhase {
    pub fn ns_per_event(&self) -> f64 {
        self.cpu_ms * 1e6 / self.events.max(1) as f64
    }

    pub fn sched_ns_per_event(&self) -> f64 {
        self.run_ns as f64 / self.events.max(1) as f64
    }

    pub fn requests_ok(&self) -> bool {
        match self.followed_last {
            None => self.sent.is_empty(),
            Some(ip) => self.sent.len() == 1 && self.sent[0] == ip.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Storm {
    pub burst: StormPhase,
    pub paced: StormPhase,
    pub mixed: StormPhase,
}

/// Three phases of `n` events on `br-lan`, which no record follows: back to back,
/// paced, and back to back with changes on the followed interface mid-storm.
pub fn dynhost_storm(bin: &Path, n: usize) -> Storm {
    let wan = Wan::create(Link::Bridge);
    bridge("br-lan");
    let lan = if_index("br-lan");
    let mut run = Running::start(bin, wan, "storm", None);
    sleep(Duration::from_millis(1500));
    let pid = run.agent.pid();
    let mut phase = |pace: Option<Duration>, followed: bool| {
        let before = run.provider.count();
        let mark = run.wan.monitor.mark();
        let s0 = sample(pid);
        let start = Instant::now();
        let mut changed = 0;
        for k in 0..n {
            if followed && k >= n / 2 && (k - n / 2).is_multiple_of(50) && changed < STORM_FOLLOWED
            {
                changed += 1;
                run.wan.change(changed);
            }
            // add X, delete X, add Y, delete Y, ... : /32s of 192.0.2.0/24 on br-lan.
            let a = V4 {
                local: Ipv4Addr::new(192, 0, 2, 1 + ((k / 2) % 250) as u8),
                prefix: 32,
                peer: None,
            };
            run.wan.rtnl.addr(k % 2 == 0, lan, a);
            if let Some(p) = pace {
                sleep(p);
            }
        }
        let wall = start.elapsed();
        let events = run
            .wan
            .monitor
            .wait_count(mark, n, Duration::from_secs(30), |e| e.ifindex == lan);
        // A debounce (1 s, after an overrun's resync or the followed changes), the
        // request, and margin.
        sleep(Duration::from_secs(3));
        let s1 = sample(pid);
        let (rss_kib, hwm_kib) = memory(pid);
        let sent = run.provider.requests()[before..]
            .iter()
            .map(|r| r.param("myip").unwrap_or("?").to_string())
            .collect();
        StormPhase {
            events,
            cpu_ms: ms_of_ticks(s1.ticks - s0.ticks),
            run_ns: s1.run_ns.saturating_sub(s0.run_ns),
            wall,
            sent,
            followed_last: followed.then(|| run.wan.address()),
            rss_kib,
            hwm_kib,
            monitor_overrun: run.wan.monitor.overrun(),
        }
    };
    let burst = phase(None, false);
    progress!("storm: burst done");
    let paced = phase(Some(STORM_PACE), false);
    progress!("storm: paced done");
    let mixed = phase(None, true);
    assert!(run.agent.stop().success(), "dynhost exited with an error");
    Storm {
        burst,
        paced,
        mixed,
    }
}
