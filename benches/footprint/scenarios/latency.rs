//! Change → request: spaced address changes on a bridge or a point-to-point tun, and
//! the same with an IPv6 address event following each IPv4 change.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{Rng, Running};
use crate::agent::PASSWORD;
use crate::clients::check;
use crate::netns::ip;
use crate::proc::memory;
use crate::wan::{Link, Wan};

#[derive(Clone, Debug)]
pub struct Latency {
    pub samples: Vec<Duration>,
    pub skew: Duration,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Change → request latency over `n` spaced changes.
pub fn dynhost_latency(bin: &Path, link: Link, debounce: Option<Duration>, n: usize) -> Latency {
    let mut run = Running::start(bin, Wan::create(link), "latency", debounce);
    let quiet = debounce.unwrap_or(Duration::from_secs(1));
    assert_eq!(run.provider.requests()[0].param("system"), Some("dyndns"));
    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        // Well apart: the previous update is answered and stored, and changes never
        // fall into one debounce.
        sleep(Duration::from_millis(300) + rng.duration_below(Duration::from_millis(200)));
        let t0 = run.wan.change(i);
        let what = format!("{} change {i}", run.wan.name);
        let r = run
            .provider
            .nth(i + 1, quiet + Duration::from_secs(10), &what);
        check(&r, run.wan.address(), PASSWORD, false, &what);
        assert!(r.at >= t0, "{what}: request stamped before the change");
        samples.push(r.at - t0);
    }
    sleep(quiet + Duration::from_millis(500));
    assert_eq!(
        run.provider.count(),
        n + 1,
        "one request per change, no more: {:?}",
        run.provider
            .requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
    );
    let (rss_kib, hwm_kib) = memory(run.agent.pid());
    assert!(run.agent.stop().success(), "dynhost exited with an error");
    Latency {
        samples,
        skew: run.wan.skew,
        rss_kib,
        hwm_kib,
    }
}

/// The gap between an IPv4 change and the IPv6 address event that follows it.
pub const V6_GAP: Duration = Duration::from_millis(500);

/// Change → request for an IPv4-only record when one IPv6 address event (another family,
/// 2001:db8::N/64 added without DAD) follows the IPv4 change on the same interface by
/// `V6_GAP`, as after a real reconnect (link-local DAD, SLAAC). Default debounce.
pub fn dynhost_v6_noise(bin: &Path, n: usize) -> Vec<Duration> {
    let mut run = Running::start(bin, Wan::create(Link::Bridge), "v6noise", None);
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        sleep(Duration::from_millis(500));
        let t0 = run.wan.change(i);
        sleep((t0 + V6_GAP).saturating_duration_since(Instant::now()));
        let v6 = format!("2001:db8::{i}/64");
        ip(&["-6", "addr", "add", &v6, "dev", run.wan.name, "nodad"]);
        let what = format!("v6 noise change {i}");
        let r = run.provider.nth(i + 1, Duration::from_secs(15), &what);
        check(&r, run.wan.address(), PASSWORD, false, &what);
        samples.push(r.at - t0);
    }
    sleep(Duration::from_millis(1500));
    assert_eq!(
        run.provider.count(),
        n + 1,
        "one request per change, no more"
    );
    assert!(run.agent.stop().success(), "dynhost exited with an error");
    samples
}

/// PPP reconnect → request with the default debounce: each new address on ppp0 is
/// followed at once by contrib/ppp/ip-up, as pppd runs it (empty environment but its
/// own, the address as `$4`). The hook vouches for the address netlink shows, so no
/// quiet time is waited. Changes 1.2 to 1.5 s apart, past the previous quiet time.
pub fn dynhost_ppp_hook(bin: &Path, n: usize) -> Vec<Duration> {
    let mut run = Running::start(bin, Wan::create(Link::Ppp), "ppphook", None);
    let hook = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/ppp/ip-up");
    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(n);
    for i in 1..=n {
        sleep(Duration::from_millis(1200) + rng.duration_below(Duration::from_millis(300)));
        let t0 = run.wan.change(i);
        let local = run.wan.address().to_string();
        let status = Command::new("/bin/sh")
            .arg(&hook)
            .args(["ppp0", "/dev/ttyUSB0", "115200", &local, "192.0.2.1", "wan"])
            .env_clear()
            .env("IFNAME", "ppp0")
            .env("IPLOCAL", &local)
            .env("DYNHOST_BIN", bin)
            .env("DYNHOST_CONFIG", &run.cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run contrib/ppp/ip-up");
        assert!(status.success(), "ip-up exited with {status}");
        let what = format!("ppp reconnect {i}");
        let r = run.provider.nth(i + 1, Duration::from_secs(10), &what);
        check(&r, run.wan.address(), PASSWORD, false, &what);
        assert!(r.at >= t0, "{what}: request stamped before the change");
        samples.push(r.at - t0);
    }
    sleep(Duration::from_millis(1500));
    assert_eq!(
        run.provider.count(),
        n + 1,
        "one request per reconnect, no more"
    );
    assert!(run.agent.stop().success(), "dynhost exited with an error");
    samples
}
