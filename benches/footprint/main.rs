//! The footprint benchmark: the static release build of dynhost, side by side with
//! ddclient and inadyn. Each scenario runs in its own private network namespace against
//! the loopback provider of `tests/support`; nothing leaves the namespace.
//!
//! `bench/run` builds the binaries and runs this as root (`cargo bench --bench footprint
//! -- --bin PATH ...`). It prints one Markdown table on stdout; progress lines start with
//! `footprint:` on stderr, among the daemons' own logs. docs/benchmark.md has the method.
//!
//! Clocks: every timestamp is an `Instant` (CLOCK_MONOTONIC, shared by all processes).
//! The moment an address exists is the earlier of the ack of the netlink request that
//! added it and the RTM_NEWADDR notification this process receives on its own socket.
//! The provider stamps a request when its head is fully received.
//!
//! Layout, in the order of a run: `opts` (the command line); `netlink` (the bench's
//! own rtnetlink sockets, on `dynhost::netlink::wire`) and `wan` (the followed interface
//! and its changes); `announce` (the bench's own gateway-announcement listener); `clients` (dynhost and the peers as processes, their configs, the
//! check of a request); `scenarios/` (what is measured), `peers`; `proc` (samples from
//! /proc), `elf` (the binaries); `stats`, `host` and `report/` (the table). From the test
//! harness besides the provider: `agent` (the daemon as a child), `netns`, and for the
//! gateway and verify scenarios `miniupnpd` (with `stun`) and `bind`.

macro_rules! progress {
    ($($t:tt)*) => { eprintln!("footprint: {}", format_args!($($t)*)) };
}

#[allow(dead_code)]
#[path = "../../tests/support/agent.rs"]
mod agent;
#[allow(dead_code)]
#[path = "../../tests/support/bind.rs"]
mod bind;
#[allow(dead_code)]
#[path = "../../tests/support/miniupnpd.rs"]
mod miniupnpd;
#[allow(dead_code)]
#[path = "../../tests/support/netns.rs"]
mod netns;
#[path = "../../tests/support/ovh_api.rs"]
mod ovh_api;
#[path = "../../tests/support/provider/mod.rs"]
mod provider;
#[allow(dead_code)]
#[path = "../../tests/support/stun.rs"]
mod stun;

mod announce;
mod clients;
mod elf;
mod host;
mod netlink;
mod opts;
mod peers;
mod proc;
mod report;
mod scenarios;
mod stats;
mod wan;

use std::time::{Duration, Instant};

use elf::elf;
use host::versions;
use netns::in_netns;
use opts::parse_args;
use peers::{Peer, peer_bench};
use report::{Results, fmt_stats, render};
use scenarios::api::dynhost_api;
use scenarios::flap::dynhost_flap;
use scenarios::gateway::dynhost_gateway;
use scenarios::idle::dynhost_idle;
use scenarios::latency::{dynhost_latency, dynhost_ppp_hook, dynhost_v6_noise};
use scenarios::scale::{LINKS, dynhost_scale};
use scenarios::startup::{Startup, dynhost_startup};
use scenarios::storm::dynhost_storm;
use scenarios::verify::dynhost_verify;
use stats::stats;
use wan::Link;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Runs `body` in a fresh network namespace; a panic becomes an error for the table.
fn attempt<T: Send + 'static>(
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    progress!("{what}: start");
    let t = Instant::now();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_netns(body)));
    match r {
        Ok(v) => {
            progress!("{what}: done in {:.1} s", t.elapsed().as_secs_f64());
            Ok(v)
        }
        Err(p) => {
            let msg = panic_message(p.as_ref());
            progress!("{what}: FAILED: {msg}");
            Err(msg.lines().next().unwrap_or("failed").to_string())
        }
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // dynhost's default log level, not the test harness's trace; DYNHOST_BENCH_LOG
    // (e.g. "debug") to see where a scenario's time goes, at the cost of its numbers.
    let level = std::env::var("DYNHOST_BENCH_LOG").unwrap_or_else(|_| "info".into());
    // SAFETY: no other thread runs yet.
    unsafe { std::env::set_var("DYNHOST_LOG", level) };
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("footprint: run as root (each scenario creates a network namespace)");
        std::process::exit(2);
    }
    if !opts.bin.is_file() {
        eprintln!(
            "footprint: no dynhost binary at {} (bench/run builds it)",
            opts.bin.display()
        );
        std::process::exit(2);
    }
    let versions = versions(&opts.bin);
    progress!(
        "{} at {}; options {:?}",
        versions.dynhost,
        opts.bin.display(),
        opts
    );
    let started = Instant::now();
    let mut r = Results::default();

    if opts.wants("sizes") {
        r.sizes.push(("x86_64".into(), elf(&opts.bin)));
        if let Some(a) = &opts.bin_aarch64 {
            r.sizes.push(("aarch64".into(), elf(a)));
        }
    }
    if opts.wants("latency") {
        for link in [Link::Bridge, Link::Ppp] {
            for debounce in [None, Some(Duration::ZERO)] {
                let (bin, n) = (opts.bin.clone(), opts.changes);
                let what = format!("latency {link:?} debounce {debounce:?}");
                let res = attempt(&what, move || dynhost_latency(&bin, link, debounce, n));
                if let Ok(l) = &res
                    && let Some(s) = stats(&l.samples)
                {
                    progress!("{what}: {}", fmt_stats(&s));
                }
                r.latency.push((link, debounce, res));
            }
        }
    }
    if opts.wants("v6noise") {
        let (bin, n) = (opts.bin.clone(), (opts.changes / 4).max(1));
        r.v6_noise = Some(attempt("IPv6 event after an IPv4 change", move || {
            dynhost_v6_noise(&bin, n)
        }));
    }
    if opts.wants("ppphook") {
        let (bin, n) = (opts.bin.clone(), opts.changes);
        let what = "PPP reconnect (ip-up hook)";
        let res = attempt(what, move || dynhost_ppp_hook(&bin, n));
        if let Ok(v) = &res
            && let Some(s) = stats(v)
        {
            progress!("{what}: {}", fmt_stats(&s));
        }
        r.ppp_hook = Some(res);
    }
    if opts.wants("flap") {
        let bin = opts.bin.clone();
        r.flap = Some(attempt("flap", move || dynhost_flap(&bin)));
    }
    if opts.wants("storm") {
        let (bin, n) = (opts.bin.clone(), opts.storm);
        r.storm = Some(attempt("storm", move || dynhost_storm(&bin, n)));
    }
    if opts.wants("startup") {
        let runs = opts.startups;
        let bin = opts.bin.clone();
        let http = attempt("start-up http", move || dynhost_startup(&bin, runs, false));
        let bin = opts.bin.clone();
        let https = attempt("start-up https", move || dynhost_startup(&bin, runs, true));
        r.startup = Some(match (http, https) {
            (Ok(http), Ok(https)) => Ok(Startup { http, https }),
            (Err(e), _) | (_, Err(e)) => Err(e),
        });
    }
    if opts.wants("idle") {
        let (bin, window, settle) = (opts.bin.clone(), opts.idle, opts.settle);
        r.idle = Some(attempt("idle and memory (HTTPS)", move || {
            dynhost_idle(&bin, window, settle)
        }));
    }
    if opts.wants("scale") {
        let (bin, changes, settle) = (opts.bin.clone(), opts.changes, opts.settle);
        // 100 requests at 2 s each, 8 at a time, take 26 s; a smoke run changes 2 bridges.
        let slow_links = if opts.quick { 2 } else { LINKS };
        r.scale = Some(attempt("scale", move || {
            dynhost_scale(&bin, changes, slow_links, settle)
        }));
    }
    if opts.wants("gateway") {
        let n = (opts.changes / 2).max(2);
        for debounce in [Duration::ZERO, Duration::from_secs(1)] {
            let bin = opts.bin.clone();
            // The idle window once, at the default debounce.
            let idle = (!debounce.is_zero()).then_some((opts.idle, opts.settle));
            let what = format!("gateway debounce {debounce:?}");
            let res = attempt(&what, move || dynhost_gateway(&bin, debounce, n, idle));
            if let Ok(g) = &res
                && let Some(s) = stats(&g.samples)
            {
                progress!("{what}: {}", fmt_stats(&s));
            }
            r.gateway.push((debounce, res));
        }
    }
    if opts.wants("verify") {
        let runs = [
            (true, Duration::ZERO),
            (true, Duration::from_secs(1)),
            (false, Duration::ZERO),
        ];
        for (verify, debounce) in runs {
            let (bin, n) = (opts.bin.clone(), opts.changes);
            let what = format!("verify {verify} debounce {debounce:?}");
            let res = attempt(&what, move || dynhost_verify(&bin, verify, debounce, n));
            if let Ok(v) = &res
                && let Some(s) = stats(&v.visible)
            {
                progress!("{what}: change → visible {}", fmt_stats(&s));
            }
            r.verify.push((verify, debounce, res));
        }
    }
    if opts.wants("api") {
        let (bin, n) = (opts.bin.clone(), opts.changes);
        let res = attempt("api", move || dynhost_api(&bin, n));
        if let Ok(a) = &res
            && let Some(s) = stats(&a.visible)
        {
            progress!("api: change → visible {}", fmt_stats(&s));
        }
        r.api = Some(res);
    }
    if opts.peers {
        let peers = [
            (Peer::Ddclient, opts.peer_changes),
            (Peer::Inadyn(30), opts.peer_changes),
            // inadyn 2.10 does not enforce its 30 s minimum: 1 s is accepted (0 spins).
            (Peer::Inadyn(1), opts.changes),
        ];
        for (peer, changes) in peers {
            if !opts.wants(&peer.slug()) {
                continue;
            }
            let (window, settle) = (opts.idle, opts.settle);
            let res = attempt(&peer.slug(), move || {
                peer_bench(peer, changes, window, settle)
            });
            r.peers.push((peer, res));
        }
    }

    let (table, pass) = render(&r, &opts, &versions, started.elapsed());
    println!("{table}");
    let failed = r.latency.iter().any(|(_, _, x)| x.is_err())
        || r.peers.iter().any(|(_, x)| x.is_err())
        || [
            r.flap.as_ref().map(|x| x.is_err()),
            r.ppp_hook.as_ref().map(|x| x.is_err()),
            r.storm.as_ref().map(|x| x.is_err()),
        ]
        .into_iter()
        .flatten()
        .any(|e| e)
        || matches!(r.idle, Some(Err(_)))
        || matches!(r.startup, Some(Err(_)))
        || matches!(r.scale, Some(Err(_)))
        || r.gateway.iter().any(|(_, x)| x.is_err())
        || r.verify.iter().any(|(_, _, x)| x.is_err())
        || matches!(r.api, Some(Err(_)));
    progress!(
        "finished in {:.1} min: {}",
        started.elapsed().as_secs_f64() / 60.0,
        if failed {
            "some scenarios failed (see above)"
        } else if pass {
            "every target met"
        } else {
            "some targets missed"
        }
    );
    if failed {
        std::process::exit(1);
    }
}
