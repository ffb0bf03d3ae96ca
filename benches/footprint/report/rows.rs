//! The groups of rows, in table order. Each judges its targets through the table.

use std::fmt::Write as _;
use std::time::Duration;

use super::{
    Results, Row, TARGET_HWM_KIB, TARGET_IMAGE, TARGET_PPP_HOOK, TARGET_RSS_KIB, TARGET_SIZE,
    TARGET_SLACK, TARGET_STORM_NS, Table, err_cell, fmt_dur, fmt_stats, mib, thousands,
};
use crate::opts::Opts;
use crate::scenarios::flap::{FLAP_CHANGES, Flap};
use crate::scenarios::idle::Idle;
use crate::scenarios::latency::V6_GAP;
use crate::scenarios::storm::{STORM_FOLLOWED, STORM_PACE, StormPhase};
use crate::stats::stats;
use crate::wan::Link;

/// Change → request: each dynhost series, the IPv6-noise one, and the peers' samples.
pub(super) fn latency(t: &mut Table, r: &Results) {
    for (link, debounce, res) in &r.latency {
        let quiet = debounce.unwrap_or(Duration::from_secs(1));
        let name = match link {
            Link::Bridge => "bridge",
            Link::Ppp => "ppp0 (point-to-point tun)",
        };
        let label = match debounce {
            None => "debounce 1 s (default)".to_string(),
            Some(d) => format!("`debounce = \"{}s\"`", d.as_secs()),
        };
        let metric = format!("Change → request, {name}, {label}: min / median / p95 / max");
        let limit = quiet + TARGET_SLACK;
        let target = format!("p95 ≤ {}", fmt_dur(limit));
        let row = match res {
            Ok(l) => {
                let st = stats(&l.samples).expect("samples");
                let cell = format!(
                    "{} (t0 ack/notification skew ≤ {} µs)",
                    fmt_stats(&st),
                    l.skew.as_micros()
                );
                Row::new(metric, cell).target(target, t.judge(st.p95 <= limit))
            }
            Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
        };
        t.rows.push(row);
    }
    if let Some(res) = &r.v6_noise {
        let metric = format!(
            "Change → request, bridge, debounce 1 s, one IPv6 address event on the same \
             interface {} ms after the IPv4 change (record: IPv4 only)",
            V6_GAP.as_millis()
        );
        // Events of a family no record publishes are ignored: the IPv6 one must not
        // restart the debounce.
        let limit = Duration::from_secs(1) + TARGET_SLACK;
        let target = format!("p95 ≤ {} (the IPv6 event ignored)", fmt_dur(limit));
        let row = match res {
            Ok(v) => match stats(v) {
                Some(st) => {
                    Row::new(metric, fmt_stats(&st)).target(target, t.judge(st.p95 <= limit))
                }
                None => Row::new(metric, "no sample").target(target, t.judge(false)),
            },
            Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
        };
        t.rows.push(row);
    }
    if let Some(res) = &r.ppp_hook {
        let metric = "PPP reconnect (ip-up hook) → request, ppp0, debounce 1 s (default): \
                      min / median / p95 / max";
        // The hook vouches for the address netlink shows: no quiet time (issue 22).
        let target = format!("p95 ≤ {}", fmt_dur(TARGET_PPP_HOOK));
        let row = match res {
            Ok(v) => match stats(v) {
                Some(st) => Row::new(metric, fmt_stats(&st))
                    .target(target, t.judge(st.p95 <= TARGET_PPP_HOOK)),
                None => Row::new(metric, "no sample").target(target, t.judge(false)),
            },
            Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
        };
        t.rows.push(row);
    }
    if !r.peers.is_empty() {
        let mut row = Row::new(
            "Change → request, bridge, peers at the interval in their column header",
            "see the rows above",
        );
        row.peers =
            t.peer_cells(&|p| stats(&p.samples).map_or("no sample".into(), |s| fmt_stats(&s)));
        t.rows.push(row);
    }
}

/// The flap, for dynhost and each peer.
pub(super) fn flap(t: &mut Table, r: &Results) {
    let flap_cell = |f: &Flap| {
        let last = f.sent.last().is_some_and(|ip| *ip == f.last.to_string());
        format!(
            "{} request(s) for {FLAP_CHANGES} changes in {:.0} ms; carries {}{}",
            f.sent.len(),
            f.span.as_secs_f64() * 1e3,
            f.sent.join(", "),
            if last {
                " = the last ✓"
            } else {
                " ≠ the last ✗"
            },
        ) + &f.latency.map_or(String::new(), |l| {
            format!("; the last address {} after its change", fmt_dur(l))
        })
    };
    if let Some(res) = &r.flap {
        let metric = format!("Flap: {FLAP_CHANGES} changes within 1 s → requests");
        let mut row = match res {
            Ok(f) => Row::new(&metric, flap_cell(f))
                .target("exactly 1, carrying the last address", t.judge(f.ok())),
            Err(e) => Row::new(&metric, err_cell(e)).target("exactly 1", t.judge(false)),
        };
        row.peers = t.peer_cells(&|p| flap_cell(&p.flap));
        t.rows.push(row);
    }
}

/// Start-up over HTTP and HTTPS, and the peers' first update.
pub(super) fn startup(t: &mut Table, r: &Results) {
    if let Some(res) = &r.startup {
        let med = |v: &[Duration]| {
            stats(v).map_or("-".into(), |s| {
                format!(
                    "{} median ({} – {}, n={})",
                    fmt_dur(s.median),
                    fmt_dur(s.min),
                    fmt_dur(s.max),
                    s.n
                )
            })
        };
        let metric = "Start-up: process start → first request (address present before start)";
        let mut row = match res {
            Ok(s) => Row::new(
                metric,
                format!("HTTP: {}; HTTPS: {}", med(&s.http), med(&s.https)),
            ),
            Err(e) => Row::new(metric, err_cell(e)),
        }
        .target("", None);
        row.peers = t.peer_cells(&|p| format!("HTTP: {} (n=1)", fmt_dur(p.startup)));
        t.rows.push(row);
    }
}

/// Idle CPU, wake-ups and memory, and memory after the updates.
pub(super) fn idle(t: &mut Table, r: &Results, opts: &Opts) {
    let idle_cpu = |i: &Idle| {
        let mut s = format!(
            "{:.0} ms in {:.0} s ({:.2} ms/min); on-CPU {:.3} ms",
            i.cpu_ms,
            i.window.as_secs_f64(),
            i.per_min(i.cpu_ms),
            i.run_ns as f64 / 1e6
        );
        if i.child_cpu_ms > 0.0 {
            write!(
                s,
                "; + children {:.0} ms ({:.2} ms/min)",
                i.child_cpu_ms,
                i.per_min(i.child_cpu_ms)
            )
            .unwrap();
        }
        s
    };
    let idle_wake = |i: &Idle| {
        format!(
            "{} voluntary ({:.1}/min), {} nonvoluntary; {} thread(s){}; {} request(s)",
            i.voluntary,
            i.per_min(i.voluntary as f64),
            i.nonvoluntary,
            i.threads,
            if i.threads_changed {
                ", thread set changed"
            } else {
                ""
            },
            i.requests
        )
    };
    if let Some(res) = &r.idle {
        let window = opts.idle.as_secs();
        let m1 = format!("Idle CPU (utime+stime) over {window} s after the last update");
        let m2 = format!("Idle wake-ups over {window} s (context switches, all threads)");
        let m3 = "Idle VmRSS";
        let m4 = "VmHWM after updates";
        match res {
            Ok(d) => {
                let i = &d.idle;
                let mut row = Row::new(m1, idle_cpu(i)).target("", None);
                row.peers = t.peer_cells(&|p| idle_cpu(&p.idle));
                t.rows.push(row);
                let cell = format!(
                    "{} ({} thread(s) 0.3 s after the last update)",
                    idle_wake(i),
                    d.threads_after_update
                );
                let mut row = Row::new(m2, cell)
                    .target("0 wake-ups", t.judge(i.voluntary == 0 && i.requests == 0));
                row.peers = t.peer_cells(&|p| idle_wake(&p.idle));
                t.rows.push(row);
                let mut row = Row::new(m3, mib(i.rss_kib))
                    .target("≤ 3 MiB", t.judge(i.rss_kib <= TARGET_RSS_KIB));
                row.peers = t.peer_cells(&|p| mib(p.idle.rss_kib));
                t.rows.push(row);
                let http_hwm = r
                    .latency
                    .iter()
                    .filter_map(|(_, _, l)| l.as_ref().ok())
                    .map(|l| (l.hwm_kib, l.rss_kib))
                    .max();
                let mut cell = format!(
                    "HTTPS ({} updates, ca_file + system roots): {}",
                    d.https_updates,
                    mib(d.hwm_https_kib.max(i.hwm_kib))
                );
                write!(cell, " (VmRSS just after: {})", mib(d.rss_https_kib)).unwrap();
                if let Some((hwm, rss)) = http_hwm {
                    write!(
                        cell,
                        "; plain HTTP, after {}+ updates: {} (VmRSS {})",
                        opts.changes + 1,
                        mib(hwm),
                        mib(rss)
                    )
                    .unwrap();
                }
                let mut row = Row::new(m4, cell).target(
                    "≤ 4 MiB after HTTPS",
                    t.judge(d.hwm_https_kib.max(i.hwm_kib) <= TARGET_HWM_KIB),
                );
                row.peers = t.peer_cells(&|p| format!("plain HTTP: {}", mib(p.idle.hwm_kib)));
                t.rows.push(row);
            }
            Err(e) => {
                let failed = t.judge(false);
                t.rows.push(Row::new(m1, err_cell(e)).target("", None));
                t.rows
                    .push(Row::new(m2, err_cell(e)).target("0 wake-ups", failed));
                t.rows
                    .push(Row::new(m3, err_cell(e)).target("≤ 3 MiB", failed));
                t.rows
                    .push(Row::new(m4, err_cell(e)).target("≤ 4 MiB", failed));
            }
        }
    }
}

/// The three storm phases; the peers poll and never see events.
pub(super) fn storm(t: &mut Table, r: &Results, opts: &Opts) {
    if let Some(res) = &r.storm {
        let n = thousands(opts.storm as u64);
        let unrelated = |p: &StormPhase| {
            format!(
                "{:.1} µs/event ({:.0} ms for {} events; on-CPU {:.1} µs/event); {} request(s); sent in {:.2} s{}",
                p.ns_per_event() / 1e3,
                p.cpu_ms,
                thousands(p.events as u64),
                p.sched_ns_per_event() / 1e3,
                p.sent.len(),
                p.wall.as_secs_f64(),
                if p.monitor_overrun {
                    " (bench monitor overran: count low)"
                } else {
                    ""
                }
            )
        };
        let target = "≤ 20 µs/event, 0 requests";
        let phase_ok = |p: &StormPhase| {
            p.ns_per_event() <= TARGET_STORM_NS && p.requests_ok() && p.events >= opts.storm
        };
        let m1 = format!("Storm: {n} unrelated address events, back to back: CPU per event");
        let m2 = format!(
            "Storm: {n} unrelated events paced {} µs apart (each its own wake-up)",
            STORM_PACE.as_micros()
        );
        let m3 = format!(
            "Storm: {n} unrelated events + {STORM_FOLLOWED} changes on the followed interface mid-storm"
        );
        let na = || -> Vec<String> {
            r.peers
                .iter()
                .map(|_| "n/a: polls; never sees events".to_string())
                .collect()
        };
        match res {
            Ok(s) => {
                let mut row =
                    Row::new(m1, unrelated(&s.burst)).target(target, t.judge(phase_ok(&s.burst)));
                row.peers = na();
                t.rows.push(row);
                let mut row =
                    Row::new(m2, unrelated(&s.paced)).target(target, t.judge(phase_ok(&s.paced)));
                row.peers = na();
                t.rows.push(row);
                let m = &s.mixed;
                let cell = format!(
                    "{} request(s), carrying {} (last: {}); {:.1} µs CPU/event overall; after all storms VmRSS {}, VmHWM {}",
                    m.sent.len(),
                    m.sent.join(", "),
                    m.followed_last.map_or("-".into(), |ip| ip.to_string()),
                    m.ns_per_event() / 1e3,
                    mib(m.rss_kib),
                    mib(m.hwm_kib)
                );
                let mut row = Row::new(m3, cell).target(
                    "exactly 1, for the followed interface, last address",
                    t.judge(m.requests_ok()),
                );
                row.peers = na();
                t.rows.push(row);
            }
            Err(e) => {
                let failed = t.judge(false);
                for m in [m1, m2, m3] {
                    t.rows.push(Row::new(m, err_cell(e)).target(target, failed));
                }
            }
        }
    }
}

/// The binaries.
pub(super) fn sizes(t: &mut Table, r: &Results) {
    for (label, res) in &r.sizes {
        let metric = format!("Binary, {label}, static release build, stripped");
        let row = match res {
            Ok(e) => Row::new(
                metric,
                format!(
                    "{} bytes ({:.2} MiB); {} ELF, {}, {}",
                    thousands(e.size),
                    e.size as f64 / 1048576.0,
                    e.machine,
                    if e.is_static { "static" } else { "DYNAMIC" },
                    if e.stripped {
                        "stripped"
                    } else {
                        "NOT stripped"
                    }
                ),
            )
            .target(
                "≤ 3 MiB (3,145,728 bytes)",
                t.judge(e.size <= TARGET_SIZE && e.is_static && e.stripped),
            ),
            Err(e) => Row::new(metric, err_cell(e)).target("≤ 3 MiB", t.judge(false)),
        };
        t.rows.push(row);
    }
}

/// The container images bench/run built (contrib/container/build).
pub(super) fn images(t: &mut Table, opts: &Opts) {
    for (label, bytes) in &opts.images {
        let row = Row::new(
            format!("Container image, {label}, compressed (FROM scratch: binary + CA roots)"),
            format!(
                "{} bytes ({:.2} MB)",
                thousands(*bytes),
                *bytes as f64 / 1e6
            ),
        )
        .target("< 4 MB (4,000,000 bytes)", t.judge(*bytes < TARGET_IMAGE));
        t.rows.push(row);
    }
}

/// The files the running clients map.
pub(super) fn mapped(t: &mut Table, r: &Results) {
    if let Some(Ok(d)) = &r.idle {
        let mut row = Row::new(
            "Files mapped by the running process (binary + shared libraries)",
            format!(
                "{} file(s), {}",
                d.mapped.0,
                thousands(d.mapped.1) + " bytes"
            ),
        )
        .target("", None);
        row.peers = t.peer_cells(&|p| {
            format!(
                "{} files, {} bytes ({})",
                p.mapped.0,
                thousands(p.mapped.1),
                p.exe
            )
        });
        t.rows.push(row);
    }
}
