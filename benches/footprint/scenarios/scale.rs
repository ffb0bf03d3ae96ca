//! Scale: a router with many names. 100 records on 10 bridges (10 each), one state file,
//! one provider. Start-up to all 100 first requests, idle memory once they are
//! published, one bridge's change to its 10 requests, and how many requests the
//! provider saw open at once, answering at once and answering slowly (the daemon caps
//! its requests under way at 8).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::Rng;
use crate::agent::{PASSWORD, Scratch, record};
use crate::clients::{VERIFY_OFF, check_host, dynhost_config_with, start_dynhost};
use crate::netlink::{Monitor, Rtnl, V4};
use crate::netns::ip_batch;
use crate::proc::{memory, sample};
use crate::provider::{Provider, Reply, Request};
use crate::wan::if_index;

/// Bridges, and records on each.
pub const LINKS: usize = 10;
pub const PER_LINK: usize = 10;
pub const RECORDS: usize = LINKS * PER_LINK;
/// The slow provider's time to answer each request.
pub const SLOW_REPLY: Duration = Duration::from_secs(2);
/// The daemon's cap on requests under way (`src/engine/decide.rs`, `MAX_IN_FLIGHT`).
pub const CAP: usize = 8;
/// Clients of the gauge's own check: more than the cap, so that a reading of 8 or less
/// is the daemon's doing and not the gauge's limit.
pub const GAUGE_CLIENTS: usize = 12;
/// The debounce the scenario runs with (the default).
pub const DEBOUNCE: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct Scale {
    /// Requests open at once that the gauge read with `GAUGE_CLIENTS` test clients.
    pub gauge_check: usize,
    /// Process start → the first and the last of the 100 first requests.
    pub startup_first: Duration,
    pub startup_last: Duration,
    pub startup_open_max: usize,
    /// Idle, all 100 published.
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub threads: usize,
    /// Per change of one bridge: t0 → the first and the last of its 10 requests.
    pub change_first: Vec<Duration>,
    pub change_last: Vec<Duration>,
    pub changes_open_max: usize,
    /// The slow provider: bridges changed at once, requests, the most open at once, and
    /// the last change → every request answered.
    pub slow_links: usize,
    pub slow_requests: usize,
    pub slow_open_max: usize,
    pub slow_span: Duration,
}

pub fn hostname(link: usize, k: usize) -> String {
    format!("scale-{link}-{k}.example.com")
}

fn link_name(link: usize) -> String {
    format!("br-s{link}")
}

/// The address of bridge `link` at generation `g`: 203.0.113.10 to .249; two bridges
/// never hold the same one.
fn plan(link: usize, g: usize) -> V4 {
    V4 {
        local: Ipv4Addr::new(203, 0, 113, 10 + ((g * LINKS + link) % 240) as u8),
        prefix: 24,
        peer: None,
    }
}

/// The ten bridges, their addresses, and changes timed as `Wan::change` times them.
struct Lan {
    rtnl: Rtnl,
    monitor: Monitor,
    index: Vec<u32>,
    generation: Vec<usize>,
}

impl Lan {
    fn create() -> Lan {
        let mut lines = Vec::new();
        for l in 0..LINKS {
            lines.push(format!("link add {} type bridge", link_name(l)));
            lines.push(format!("link set {} up", link_name(l)));
        }
        ip_batch(&lines);
        let mut lan = Lan {
            rtnl: Rtnl::new(),
            monitor: Monitor::start(),
            index: (0..LINKS).map(|l| if_index(&link_name(l))).collect(),
            generation: vec![0; LINKS],
        };
        for l in 0..LINKS {
            lan.rtnl.addr(true, lan.index[l], plan(l, 0));
        }
        settle_ipv6();
        lan
    }

    fn address(&self, link: usize) -> Ipv4Addr {
        plan(link, self.generation[link]).local
    }

    /// Moves bridge `link` to its next address; the moment the new one exists.
    fn change(&mut self, link: usize) -> Instant {
        let old = plan(link, self.generation[link]);
        self.generation[link] += 1;
        let next = plan(link, self.generation[link]);
        let ifindex = self.index[link];
        self.rtnl.addr(false, ifindex, old);
        let mark = self.monitor.mark();
        let ack = self.rtnl.addr(true, ifindex, next);
        let ev = self
            .monitor
            .wait(mark, Duration::from_secs(5), |e| {
                e.new && e.ifindex == ifindex && e.local == next.local
            })
            .expect("no RTM_NEWADDR for the added address");
        ack.min(ev.at)
    }
}

/// Waits for every bridge's IPv6 link-local address (DAD done), as `Wan` does for one:
/// their notifications must not fall into the start-up being measured.
fn settle_ipv6() {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = std::process::Command::new("ip")
            .args(["-6", "-o", "addr", "show", "scope", "link", "-tentative"])
            .output()
            .expect("cannot run `ip` (install iproute2)");
        let ready = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("br-s"))
            .count();
        if ready >= LINKS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {ready} of {LINKS} bridges have an IPv6 link-local address after 15 s \
             (IPv6 disabled?)"
        );
        sleep(Duration::from_millis(50));
    }
    sleep(Duration::from_millis(200));
}

/// The gauge's own check: `GAUGE_CLIENTS` plain clients at once against a provider that
/// answers after 500 ms must read as that many open at once, then none.
pub fn gauge_check() -> usize {
    let slow = Reply::Delay(Duration::from_millis(500), Box::new(Reply::GoodEcho));
    let p = Provider::start_with(slow);
    let addr = p.addr();
    let clients: Vec<_> = (0..GAUGE_CLIENTS)
        .map(|k| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("gauge check: connect");
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                write!(
                    s,
                    "GET /nic/update?hostname=gauge-{k}.example.com&myip=192.0.2.1 HTTP/1.1\r\n\
                     Host: 127.0.0.1\r\n\r\n"
                )
                .expect("gauge check: send");
                let mut reply = Vec::new();
                s.read_to_end(&mut reply).expect("gauge check: read");
                reply
            })
        })
        .collect();
    for c in clients {
        let reply = c.join().expect("gauge check client");
        assert!(
            reply.starts_with(b"HTTP/1.1 200"),
            "gauge check: {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.open_requests() > 0 {
        assert!(Instant::now() < deadline, "gauge check: requests left open");
        sleep(Duration::from_millis(10));
    }
    let max = p.open_max();
    assert_eq!(
        max, GAUGE_CLIENTS,
        "the provider's gauge read {max} for {GAUGE_CLIENTS} requests open at once"
    );
    max
}

/// Checks that `reqs` are exactly one update per record of `links`, each carrying its
/// bridge's current address.
fn check_round(reqs: &[Request], links: &[usize], lan: &Lan, what: &str) {
    let mut want: HashMap<String, Ipv4Addr> = HashMap::new();
    for &l in links {
        for k in 0..PER_LINK {
            want.insert(hostname(l, k), lan.address(l));
        }
    }
    assert_eq!(
        reqs.len(),
        want.len(),
        "{what}: {} requests for {} records",
        reqs.len(),
        want.len()
    );
    for r in reqs {
        let host = r.param("hostname").unwrap_or("?").to_string();
        let Some(addr) = want.remove(&host) else {
            panic!("{what}: an unexpected or repeated request for {host}");
        };
        check_host(r, &host, addr, PASSWORD, false, what);
    }
}

fn span(reqs: &[Request], t0: Instant) -> (Duration, Duration) {
    let first = reqs.iter().map(|r| r.at).min().expect("requests");
    let last = reqs.iter().map(|r| r.at).max().expect("requests");
    (
        first.saturating_duration_since(t0),
        last.saturating_duration_since(t0),
    )
}

/// The whole scenario: `changes` single-bridge changes, then `slow_links` bridges at once
/// against the slow provider; `settle` of quiet before the memory is read.
pub fn dynhost_scale(bin: &Path, changes: usize, slow_links: usize, settle: Duration) -> Scale {
    let gauge = gauge_check();
    progress!("scale: gauge check read {gauge} open at once");
    let mut lan = Lan::create();
    let provider = Provider::start();
    let dir = Scratch::new("scale");
    let mut records = String::new();
    for l in 0..LINKS {
        for k in 0..PER_LINK {
            records.push_str(&record(&hostname(l, k), &link_name(l), ""));
        }
    }
    let cfg = dynhost_config_with(&dir, &provider.url(), None, &records, VERIFY_OFF, None);

    // Start-up: every record's address is there before the process starts.
    let t0 = Instant::now();
    let agent = start_dynhost(bin, &cfg);
    let pid = agent.pid();
    let reqs = provider.wait_for(RECORDS, Duration::from_secs(30));
    assert!(
        reqs.len() >= RECORDS,
        "start-up: {} of {RECORDS} first requests within 30 s",
        reqs.len()
    );
    let all: Vec<usize> = (0..LINKS).collect();
    check_round(&reqs[..RECORDS], &all, &lan, "start-up");
    let (startup_first, startup_last) = span(&reqs[..RECORDS], t0);
    let startup_open_max = provider.open_max();
    sleep(settle);
    assert_eq!(
        provider.count(),
        RECORDS,
        "start-up: one request per record"
    );
    let (rss_kib, hwm_kib) = memory(pid);
    let threads = sample(pid).tids.len();
    progress!(
        "scale: 100 first requests in {:.1} ms; idle VmRSS {rss_kib} KiB",
        startup_last.as_secs_f64() * 1e3
    );

    // One bridge at a time, the provider answering at once.
    provider.reset_open_max();
    let mut rng = Rng::new();
    let mut change_first = Vec::with_capacity(changes);
    let mut change_last = Vec::with_capacity(changes);
    for c in 0..changes {
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let link = c % LINKS;
        let before = provider.count();
        let t0 = lan.change(link);
        let reqs = provider.wait_for(before + PER_LINK, DEBOUNCE + Duration::from_secs(10));
        let what = format!("change {} of {}", c + 1, link_name(link));
        assert!(
            reqs.len() >= before + PER_LINK,
            "{what}: {} of its {PER_LINK} requests",
            reqs.len() - before
        );
        check_round(&reqs[before..before + PER_LINK], &[link], &lan, &what);
        let (first, last) = span(&reqs[before..], t0);
        change_first.push(first);
        change_last.push(last);
    }
    sleep(DEBOUNCE + Duration::from_millis(500));
    assert_eq!(
        provider.count(),
        RECORDS + changes * PER_LINK,
        "one request per record and change, no more"
    );
    let changes_open_max = provider.open_max();

    // A slow provider: `slow_links` bridges change at once.
    provider.set_default(Reply::Delay(SLOW_REPLY, Box::new(Reply::GoodEcho)));
    sleep(Duration::from_millis(300));
    provider.reset_open_max();
    let before = provider.count();
    let mut last_change = Instant::now();
    for link in 0..slow_links {
        last_change = lan.change(link);
    }
    let slow_requests = slow_links * PER_LINK;
    let waves = slow_requests.div_ceil(CAP) as u32;
    let limit = DEBOUNCE + SLOW_REPLY * (waves + 1) + Duration::from_secs(10);
    let reqs = provider.wait_for(before + slow_requests, limit);
    assert!(
        reqs.len() >= before + slow_requests,
        "slow provider: {} of {slow_requests} requests within {limit:?}",
        reqs.len() - before
    );
    let deadline = Instant::now() + SLOW_REPLY + Duration::from_secs(10);
    while provider.open_requests() > 0 {
        assert!(
            Instant::now() < deadline,
            "slow provider: requests still open"
        );
        sleep(Duration::from_millis(5));
    }
    let slow_span = last_change.elapsed();
    let links: Vec<usize> = (0..slow_links).collect();
    check_round(
        &reqs[before..before + slow_requests],
        &links,
        &lan,
        "slow provider",
    );
    let slow_open_max = provider.open_max();
    sleep(Duration::from_millis(1500));
    assert_eq!(
        provider.count(),
        before + slow_requests,
        "slow provider: one request per record, no retry"
    );
    assert!(agent.stop().success(), "dynhost exited with an error");
    Scale {
        gauge_check: gauge,
        startup_first,
        startup_last,
        startup_open_max,
        rss_kib,
        hwm_kib,
        threads,
        change_first,
        change_last,
        changes_open_max,
        slow_links,
        slow_requests,
        slow_open_max,
        slow_span,
    }
}
