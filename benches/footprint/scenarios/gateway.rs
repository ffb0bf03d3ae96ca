//! Behind another router: the real miniupnpd as the upstream (`tests/support/miniupnpd.rs`),
//! dynhost on a LAN host with `ipv4_source = "gateway"`. Announcement → request, then
//! what gateway mode costs while nothing happens.
//!
//! t0 is the moment the first announcement of a change reaches the benchmark's own
//! listener in the client namespace, as the kernel stamped its arrival (`announce`: it
//! shares 0.0.0.0:5350 with the daemon's through SO_REUSEPORT, and each socket gets its
//! copy of the multicast datagram); t1 is the provider's stamp of the request.

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use dynhost::gateway::Announced;

use super::Rng;
use super::idle::{Idle, idle_window};
use crate::agent::{Agent, PASSWORD, Scratch, record};
use crate::announce::{Heard, Socket};
use crate::clients::{HOST, VERIFY_OFF, check, dynhost_config_with};
use crate::miniupnpd::{GATEWAY, LAN_IF, Options, PUBLIC, Upstream};
use crate::provider::Provider;

/// The daemon's safety-net query in gateway mode (`gateway.check`, default): the only
/// timer while nothing changes.
pub const SAFETY_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Clone, Debug)]
pub struct GatewayRun {
    /// Announcement → request, per change.
    pub samples: Vec<Duration>,
    /// Changes whose request the provider stamped before our listener stamped the
    /// announcement (our thread was scheduled late): counted as 0.
    pub late_t0: usize,
    /// Announcements our listener received per change (NAT-PMP and PCP): fewest, most.
    pub per_change: (usize, usize),
    /// The largest spread between the first and the last announcement of one change.
    pub spread: Duration,
    /// The longest our listener's thread took to read an announcement after the kernel
    /// received it (what a userspace stamp would have added to t0).
    pub read_lag: Duration,
    /// The protocols the daemon said answered (`via=` of its log).
    pub via: Vec<String>,
    pub idle: Option<Idle>,
}

type Log = Arc<(Mutex<Vec<Heard>>, Condvar)>;

/// The benchmark's own listener on 224.0.0.1:5350 in the client namespace.
struct Announcements {
    log: Log,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Announcements {
    fn start(up: &Upstream) -> Announcements {
        let ifindex = up.client.ifindex(LAN_IF);
        let log: Log = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            up.client.spawn(move || {
                // Reads time out only to see `stop`: this is the benchmark's process,
                // not the daemon's.
                let sock = match Socket::bind(5350, ifindex, Duration::from_millis(200)) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while !stop.load(Ordering::SeqCst) {
                    match sock.recv() {
                        Ok(Some(h)) => {
                            log.0.lock().unwrap().push(h);
                            log.1.notify_all();
                        }
                        Ok(None) => {}
                        Err(e) => panic!("the benchmark's announcement listener: {e}"),
                    }
                }
            })
        };
        match ready.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the benchmark's announcement listener: {e}"),
            Err(_) => panic!("the benchmark's announcement listener did not start"),
        }
        Announcements {
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn mark(&self) -> usize {
        self.log.0.lock().unwrap().len()
    }

    /// Waits (at most `timeout`) for an announcement from position `from` on that
    /// satisfies `pred`; every announcement from `from` on, whether or not one did.
    fn wait(&self, from: usize, timeout: Duration, pred: impl Fn(&Heard) -> bool) -> Vec<Heard> {
        let deadline = Instant::now() + timeout;
        let mut log = self.log.0.lock().unwrap();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if log[from..].iter().any(&pred) || left.is_zero() {
                return log[from..].to_vec();
            }
            log = self.log.1.wait_timeout(log, left).unwrap().0;
        }
    }
}

impl Drop for Announcements {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `n` announced changes at `debounce`; then, if `idle` is given (window, settle), the
/// idle window in gateway mode.
pub fn dynhost_gateway(
    bin: &Path,
    debounce: Duration,
    n: usize,
    idle: Option<(Duration, Duration)>,
) -> GatewayRun {
    let up = Upstream::start(Options::all());
    let announcements = Announcements::start(&up);
    let provider = up.client.run(Provider::start);
    let dir = Scratch::new("gateway");
    let records = record(HOST, LAN_IF, "ipv4_source = \"gateway\"");
    let cfg = dynhost_config_with(
        &dir,
        &provider.url(),
        Some(debounce),
        &records,
        VERIFY_OFF,
        None,
    );
    let mut cmd = up.client.command(&bin.display().to_string());
    cmd.arg("-c").arg(&cfg).arg("run");
    let agent = Agent::spawn(cmd);
    let first = provider.nth(1, Duration::from_secs(20), "first update (gateway)");
    check(&first, PUBLIC, PASSWORD, false, "first update (gateway)");

    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(n);
    let mut late_t0 = 0;
    let mut per_change = (usize::MAX, 0);
    let mut spread = Duration::ZERO;
    let mut read_lag = Duration::ZERO;
    for k in 1..=n {
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let new = Ipv4Addr::new(203, 0, 113, 20 + (k % 200) as u8);
        let mark = announcements.mark();
        up.set_public(new);
        let what = format!("announced change {k}");
        let r = provider.nth(k + 1, debounce + Duration::from_secs(10), &what);
        check(&r, new, PASSWORD, false, &what);
        // The NAT-PMP announcement carries the address; the PCP one follows it.
        let natpmp_of_new =
            |h: &Heard| matches!(h.announced, Announced::NatPmp { addr, .. } if addr == new);
        let got = announcements.wait(mark, Duration::from_secs(2), natpmp_of_new);
        assert!(
            got.iter().any(natpmp_of_new),
            "{what}: our listener saw no NAT-PMP announcement of {new}: {got:?}"
        );
        assert!(
            got.iter().all(|h| h.src.ip() == GATEWAY),
            "{what}: an announcement not from the gateway: {got:?}"
        );
        let t0 = got.iter().map(|h| h.at).min().expect("an announcement");
        if r.at < t0 {
            late_t0 += 1;
        }
        samples.push(r.at.saturating_duration_since(t0));
        // The rest of this change's announcements, for the spread.
        sleep(Duration::from_millis(200));
        let got = announcements.wait(mark, Duration::ZERO, |_| false);
        let last = got.iter().map(|h| h.at).max().expect("an announcement");
        spread = spread.max(last - t0);
        per_change = (per_change.0.min(got.len()), per_change.1.max(got.len()));
        for h in &got {
            read_lag = read_lag.max(h.read_at.saturating_duration_since(h.at));
        }
    }
    sleep(debounce + Duration::from_millis(1500));
    assert_eq!(
        provider.count(),
        n + 1,
        "exactly one request per announced change: {:?}",
        provider
            .requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
    );
    let mut via: Vec<String> = agent
        .log()
        .lines()
        .filter(|l| l.contains("reports our public address"))
        .filter_map(|l| l.split("via=").nth(1))
        .filter_map(|v| v.split_whitespace().next())
        .map(str::to_string)
        .collect();
    via.sort();
    via.dedup();
    drop(announcements);
    let idle = idle.map(|(window, settle)| {
        assert!(
            window < SAFETY_INTERVAL,
            "the idle window must be shorter than the safety query's interval"
        );
        idle_window(agent.pid(), &provider, window, settle)
    });
    assert!(agent.stop().success(), "dynhost exited with an error");
    GatewayRun {
        samples,
        late_t0,
        per_change,
        spread,
        read_lag,
        via,
        idle,
    }
}
