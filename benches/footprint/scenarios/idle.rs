//! What a client costs while nothing happens (CPU, wake-ups, threads, requests), and
//! dynhost's memory after HTTPS updates. The peers use the same window.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::agent::{PASSWORD, Scratch};
use crate::clients::{check, dynhost_config, start_dynhost};
use crate::proc::{mapped_files, memory, ms_of_ticks, sample};
use crate::provider::Provider;
use crate::wan::{Link, Wan};

#[derive(Clone, Debug, Default)]
pub struct Idle {
    pub window: Duration,
    pub cpu_ms: f64,
    pub child_cpu_ms: f64,
    pub run_ns: u64,
    pub voluntary: u64,
    pub nonvoluntary: u64,
    pub threads: usize,
    pub threads_changed: bool,
    pub requests: usize,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

impl Idle {
    pub fn per_min(&self, v: f64) -> f64 {
        v * 60.0 / self.window.as_secs_f64()
    }
}

/// Measures `pid` over `window`, after `settle` of quiet.
pub fn idle_window(pid: i32, provider: &Provider, window: Duration, settle: Duration) -> Idle {
    sleep(settle);
    let before = provider.count();
    let s0 = sample(pid);
    let t0 = Instant::now();
    sleep(window);
    let s1 = sample(pid);
    let elapsed = t0.elapsed();
    let (rss_kib, hwm_kib) = memory(pid);
    Idle {
        window: elapsed,
        cpu_ms: ms_of_ticks(s1.ticks - s0.ticks),
        child_cpu_ms: ms_of_ticks(s1.child_ticks - s0.child_ticks),
        run_ns: s1.run_ns.saturating_sub(s0.run_ns),
        voluntary: s1.voluntary.saturating_sub(s0.voluntary),
        nonvoluntary: s1.nonvoluntary.saturating_sub(s0.nonvoluntary),
        threads: s1.tids.len(),
        threads_changed: s0.tids != s1.tids,
        requests: provider.count() - before,
        rss_kib,
        hwm_kib,
    }
}

#[derive(Clone, Debug)]
pub struct DynIdle {
    pub idle: Idle,
    /// VmHWM right after the HTTPS updates.
    pub hwm_https_kib: u64,
    pub rss_https_kib: u64,
    /// Threads just after the last HTTPS update (the resolver thread lingers 1 s).
    pub threads_after_update: usize,
    pub https_updates: usize,
    pub mapped: (usize, u64),
}

/// HTTPS updates (TLS provider, its CA in ca_file, host name `localhost` as in
/// production a name is resolved), then the idle window.
pub fn dynhost_idle(bin: &Path, window: Duration, settle: Duration) -> DynIdle {
    let mut wan = Wan::create(Link::Bridge);
    let dir = Scratch::new("idle");
    let provider = Provider::start_tls(&dir.join("tls"));
    let ca = provider.ca_pem_path().expect("ca.pem");
    let cfg = dynhost_config(&dir, &provider.url_localhost(), wan.name, None, Some(&ca));
    let agent = start_dynhost(bin, &cfg);
    let first = provider.nth(1, Duration::from_secs(15), "first HTTPS update");
    check(&first, wan.address(), PASSWORD, true, "first HTTPS update");
    for i in 1..=2 {
        sleep(Duration::from_millis(300));
        wan.change(i);
        let r = provider.nth(i + 1, Duration::from_secs(15), "HTTPS update");
        check(&r, wan.address(), PASSWORD, true, "HTTPS update");
    }
    sleep(Duration::from_millis(300));
    let (rss_https_kib, hwm_https_kib) = memory(agent.pid());
    let threads_after_update = sample(agent.pid()).tids.len();
    let mapped = mapped_files(agent.pid());
    // Our own notification thread stops before the window.
    let Wan { monitor, .. } = wan;
    drop(monitor);
    let idle = idle_window(agent.pid(), &provider, window, settle);
    assert!(agent.stop().success(), "dynhost exited with an error");
    DynIdle {
        idle,
        hwm_https_kib,
        rss_https_kib,
        threads_after_update,
        https_updates: 3,
        mapped,
    }
}
