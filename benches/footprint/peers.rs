//! The polling peers, ddclient and inadyn, run through the same namespace, provider
//! and changes as dynhost.

use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::agent::{Scratch, set_mode};
use crate::clients::{HOST, PEER_PASSWORD, Proc, USER, check};
use crate::host::Versions;
use crate::proc::mapped_files;
use crate::provider::Provider;
use crate::scenarios::Rng;
use crate::scenarios::flap::{Flap, flap};
use crate::scenarios::idle::{Idle, idle_window};
use crate::wan::{Link, Wan};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Ddclient,
    /// inadyn with this `period` (seconds).
    Inadyn(u32),
}

impl Peer {
    pub fn period(self) -> Duration {
        match self {
            // ddclient raises any shorter `daemon` to 60 s.
            Peer::Ddclient => Duration::from_secs(60),
            Peer::Inadyn(p) => Duration::from_secs(u64::from(p)),
        }
    }

    pub fn slug(self) -> String {
        match self {
            Peer::Ddclient => "ddclient".into(),
            Peer::Inadyn(30) => "inadyn".into(),
            Peer::Inadyn(p) => format!("inadyn-{p}s"),
        }
    }

    pub fn header(self, versions: &Versions) -> String {
        match self {
            Peer::Ddclient => format!("ddclient {} (daemon=60)", versions.ddclient),
            Peer::Inadyn(p) => format!("inadyn {} (period={p})", versions.inadyn),
        }
    }

    /// The peer's config in `dir` (provider on 127.0.0.1:`port`, following `iface`),
    /// and the command that runs it in the foreground.
    fn command(self, dir: &Scratch, port: u16, iface: &str) -> (Command, &'static str) {
        match self {
            Peer::Ddclient => {
                let conf = dir.join("ddclient.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "daemon=60\nssl=no\nuse=if, if={iface}\nprotocol=dyndns2\n\
                         server=127.0.0.1:{port}\nscript=/nic/update\nlogin={USER}\n\
                         password='{PEER_PASSWORD}'\n{HOST}\n"
                    ),
                )
                .unwrap();
                set_mode(&conf, 0o600);
                let mut cmd = Command::new("ddclient");
                cmd.arg("-foreground")
                    .arg("-file")
                    .arg(&conf)
                    .arg("-cache")
                    .arg(dir.join("ddclient.cache"));
                (cmd, "ddclient")
            }
            Peer::Inadyn(period) => {
                let conf = dir.join("inadyn.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "period = {period}\niface = {iface}\n\
                         custom bench {{\n  ddns-server = \"127.0.0.1:{port}\"\n  \
                         ddns-path = \"/nic/update?hostname=%h&myip=%i\"\n  ssl = false\n  \
                         username = \"{USER}\"\n  password = \"{PEER_PASSWORD}\"\n  \
                         hostname = \"{HOST}\"\n}}\n"
                    ),
                )
                .unwrap();
                set_mode(&conf, 0o600);
                let cache = dir.join("cache");
                std::fs::create_dir_all(&cache).unwrap();
                let mut cmd = Command::new("inadyn");
                cmd.arg("-f")
                    .arg(&conf)
                    .arg("-n")
                    .arg("-l")
                    .arg("debug")
                    .arg("--cache-dir")
                    .arg(&cache)
                    .arg("-P")
                    .arg(dir.join("inadyn.pid"));
                (cmd, "inadyn")
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct PeerResult {
    pub startup: Duration,
    pub samples: Vec<Duration>,
    pub flap: Flap,
    pub idle: Idle,
    pub mapped: (usize, u64),
    pub exe: String,
}

/// A polling peer through the same stage as dynhost: first update, `changes` changes
/// at random phases of its polling clock, a flap, then the idle window.
pub fn peer_bench(peer: Peer, changes: usize, window: Duration, settle: Duration) -> PeerResult {
    let mut wan = Wan::create(Link::Bridge);
    let provider = Provider::start();
    let dir = Scratch::new(&peer.slug());
    let (cmd, exe_name) = peer.command(&dir, provider.addr().port(), wan.name);
    let name = peer.slug();
    let period = peer.period();
    let t0 = Instant::now();
    let daemon = Proc::spawn(exe_name, cmd, dir.join("peer.log"));
    let what = format!("{name}: first update");
    let first = provider.wait_for(1, period + Duration::from_secs(60));
    assert!(
        !first.is_empty(),
        "{what}: nothing within {:?}; its log:\n{}",
        period + Duration::from_secs(60),
        daemon.log_text()
    );
    check(&first[0], wan.address(), PEER_PASSWORD, false, &what);
    let startup = first[0].at - t0;
    // Not a wrapper: the process we measure is the one that polls.
    let exe = std::fs::read_link(format!("/proc/{}/exe", daemon.pid()))
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut rng = Rng::new();
    let mut samples = Vec::with_capacity(changes);
    for i in 1..=changes {
        // A uniformly random phase against the polling clock.
        sleep(rng.duration_below(period));
        let t = wan.change(i);
        let what = format!("{name} change {i}");
        let r = provider.nth(i + 1, period + Duration::from_secs(30), &what);
        check(&r, wan.address(), PEER_PASSWORD, false, &what);
        samples.push(r.at.saturating_duration_since(t));
        progress!(
            "{name}: change {i}/{changes}: {:.1} s",
            samples[i - 1].as_secs_f64()
        );
    }
    sleep(rng.duration_below(period));
    let flap = flap(
        &mut wan,
        &provider,
        changes + 1,
        period + Duration::from_secs(30),
        Duration::from_secs(3).max(period / 4),
    );
    progress!("{name}: flap sent {:?}", flap.sent);
    let Wan { monitor, .. } = wan;
    drop(monitor);
    let mapped = mapped_files(daemon.pid());
    let idle = idle_window(daemon.pid(), &provider, window, settle);
    PeerResult {
        startup,
        samples,
        flap,
        idle,
        mapped,
        exe,
    }
}
