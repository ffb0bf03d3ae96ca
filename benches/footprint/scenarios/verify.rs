//! Trust, then verify: Debian's BIND serving `example.com` in the scenario's namespace
//! (`tests/support/bind.rs`), the provider applying each accepted update at once by
//! RFC 2136 (nsupdate, from its request hook), and dynhost's `[verify] resolver` pointing
//! at BIND's resolver. Address change → the authoritative server answers the new
//! address; and what the verification costs dynhost per update.
//!
//! t0 is the change, as the latency rows take it. t1 is the first moment BIND answers the
//! new address: the hook asks the primary itself (`dynhost::verify::query`, no
//! recursion, authoritative answers only) right after nsupdate returns, every
//! millisecond until the answer is exactly the new address, and stamps it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};

use dynhost::model::Family;
use dynhost::verify::{Answer, query};

use super::Rng;
use crate::agent::{PASSWORD, Scratch, record};
use crate::bind::Bind;
use crate::clients::{HOST, VERIFY_OFF, check, dynhost_config_with, start_dynhost};
use crate::proc::{ms_of_ticks, sample};
use crate::provider::Provider;
use crate::wan::{Link, Wan};

/// The cost window ends this long after the provider's stamp of the request (or 100 ms
/// after "visible in DNS" is logged, if that is later): the daemon's first check waits
/// 1 s after the answer.
pub const COST_WINDOW: Duration = Duration::from_millis(1500);
/// The log line of a check that found the update visible.
const VISIBLE: &str = "visible in DNS";

/// dynhost's work over one update's window, from just before the change.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cost {
    pub window: Duration,
    /// Time on a CPU (schedstat, all live threads).
    pub run_ns: u64,
    /// utime + stime (10 ms ticks).
    pub cpu_ms: f64,
    pub voluntary: u64,
    pub nonvoluntary: u64,
}

impl Cost {
    pub fn switches(&self) -> u64 {
        self.voluntary + self.nonvoluntary
    }
}

#[derive(Clone, Debug)]
pub struct VerifyRun {
    /// Change → BIND answers the new address.
    pub visible: Vec<Duration>,
    /// The provider's part: its stamp of the request → BIND answers (nsupdate and the
    /// zone's update).
    pub applied: Vec<Duration>,
    /// The request's stamp → "visible in DNS" read from dynhost's log (verify on only).
    pub logged: Vec<Duration>,
    pub costs: Vec<Cost>,
    pub threads: usize,
}

type Seen = Arc<(Mutex<Vec<(Ipv4Addr, Option<Instant>)>>, Condvar)>;

/// Asks `server` until it answers exactly `addr` for `HOST` (authoritatively); the
/// moment it did, or `None` after 10 s.
pub(crate) fn first_answer(
    rt: &tokio::runtime::Runtime,
    server: SocketAddr,
    addr: Ipv4Addr,
) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want = IpAddr::V4(addr);
    rt.block_on(async {
        while Instant::now() < deadline {
            let answer = query(server, HOST, Family::V4, Duration::from_secs(1)).await;
            let at = Instant::now();
            if let Ok(Answer::Authoritative { addrs }) = &answer
                && addrs.len() == 1
                && addrs[0].0 == want
            {
                return Some(at);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        None
    })
}

/// `n` changes at `debounce`, with DNS verification on or off.
pub fn dynhost_verify(bin: &Path, verify: bool, debounce: Duration, n: usize) -> VerifyRun {
    let mut wan = Wan::create(Link::Bridge);
    let bind = Arc::new(Bind::start());
    let provider = Provider::start();
    let seen: Seen = Arc::default();
    {
        let (bind, seen, primary) = (bind.clone(), seen.clone(), bind.primary());
        let rt = Mutex::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
        );
        provider.on_request(Box::new(move |req| {
            let Some(addr) = req.param("myip").and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                return;
            };
            let owner = format!("{HOST}.");
            bind.update(&[
                format!("update delete {owner} A"),
                format!("update add {owner} 60 A {addr}"),
            ]);
            let at = first_answer(&rt.lock().unwrap(), primary, addr);
            seen.0.lock().unwrap().push((addr, at));
            seen.1.notify_all();
        }));
    }
    let dir = Scratch::new("verify");
    let records = record(HOST, wan.name, "");
    let tables = if verify {
        format!("[verify]\nresolver = \"{}\"\n", bind.resolver())
    } else {
        VERIFY_OFF.to_string()
    };
    let cfg = dynhost_config_with(
        &dir,
        &provider.url(),
        Some(debounce),
        &records,
        &tables,
        None,
    );
    let agent = start_dynhost(bin, &cfg);
    let pid = agent.pid();
    let first = provider.nth(1, Duration::from_secs(15), "first update (verify)");
    check(
        &first,
        wan.address(),
        PASSWORD,
        false,
        "first update (verify)",
    );
    if verify {
        agent.wait_log(VISIBLE, Duration::from_secs(15));
    }
    sleep(COST_WINDOW);

    let wait_seen = |addr: Ipv4Addr| -> Instant {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut list = seen.0.lock().unwrap();
        loop {
            if let Some((_, at)) = list.iter().find(|(a, _)| *a == addr) {
                return at.unwrap_or_else(|| panic!("BIND never answered {addr} for {HOST}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "the provider's hook never applied {addr}");
            list = seen.1.wait_timeout(list, left).unwrap().0;
        }
    };

    let mut rng = Rng::new();
    let mut run = VerifyRun {
        visible: Vec::with_capacity(n),
        applied: Vec::with_capacity(n),
        logged: Vec::with_capacity(n),
        costs: Vec::with_capacity(n),
        threads: 0,
    };
    for k in 1..=n {
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let logged_before = agent.count(VISIBLE);
        let s0 = sample(pid);
        let start = Instant::now();
        let t0 = wan.change(k);
        let what = format!("verify change {k}");
        let r = provider.nth(k + 1, debounce + Duration::from_secs(10), &what);
        check(&r, wan.address(), PASSWORD, false, &what);
        let t1 = wait_seen(wan.address());
        run.visible.push(t1.saturating_duration_since(t0));
        run.applied.push(t1.saturating_duration_since(r.at));
        let mut end = r.at + COST_WINDOW;
        if verify {
            agent.wait_count(VISIBLE, logged_before + 1, Duration::from_secs(15));
            let at = Instant::now();
            run.logged.push(at.saturating_duration_since(r.at));
            end = end.max(at + Duration::from_millis(100));
        }
        sleep(end.saturating_duration_since(Instant::now()));
        let s1 = sample(pid);
        run.threads = run.threads.max(s1.tids.len());
        run.costs.push(Cost {
            window: start.elapsed(),
            run_ns: s1.run_ns.saturating_sub(s0.run_ns),
            cpu_ms: ms_of_ticks(s1.ticks - s0.ticks),
            voluntary: s1.voluntary.saturating_sub(s0.voluntary),
            nonvoluntary: s1.nonvoluntary.saturating_sub(s0.nonvoluntary),
        });
    }
    assert_eq!(
        provider.count(),
        n + 1,
        "one request per change: slow DNS is never a reason to send again"
    );
    if verify {
        assert_eq!(
            agent.count(VISIBLE),
            n + 1,
            "one check that found it per update"
        );
    }
    assert!(agent.stop().success(), "dynhost exited with an error");
    run
}
