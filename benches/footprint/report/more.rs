//! The rows of the scale (issue 10), gateway (issue 12) and verify (issue 11) scenarios,
//! after the others. dynhost only: the peers' cells stay empty.

use std::time::Duration;

use super::{
    Results, Row, TARGET_RSS_KIB, TARGET_SCALE_RSS_KIB, TARGET_SCALE_SLACK, TARGET_SLACK,
    TARGET_VERIFY_SLACK, Table, err_cell, fmt_dur, fmt_stats, mib,
};
use crate::scenarios::gateway::SAFETY_INTERVAL;
use crate::scenarios::idle::Idle;
use crate::scenarios::scale::{CAP, DEBOUNCE, GAUGE_CLIENTS, LINKS, PER_LINK, RECORDS, SLOW_REPLY};
use crate::scenarios::verify::{Cost, VerifyRun};
use crate::stats::stats;

fn debounce_label(d: Duration) -> String {
    if d == Duration::from_secs(1) {
        "`debounce = \"1s\"` (the default)".to_string()
    } else {
        format!("`debounce = \"{}s\"`", d.as_secs())
    }
}

fn median_u64(v: impl Iterator<Item = u64>) -> u64 {
    let mut v: Vec<u64> = v.collect();
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n => (v[(n - 1) / 2] + v[n / 2]) / 2,
    }
}

/// Pushes one row per metric, each with the error, each failing its target.
fn errors(t: &mut Table, e: &str, rows: &[(String, &str)]) {
    for (metric, target) in rows {
        let ok = if target.is_empty() {
            None
        } else {
            t.judge(false)
        };
        t.rows
            .push(Row::new(metric.clone(), err_cell(e)).target(*target, ok));
    }
}

/// 100 records on 10 bridges.
pub(super) fn scale(t: &mut Table, r: &Results) {
    let Some(res) = &r.scale else {
        return;
    };
    let change_limit = DEBOUNCE + TARGET_SCALE_SLACK;
    let m_rss = format!(
        "Scale, {RECORDS} records on {LINKS} bridges (one state file, one provider): idle \
         VmRSS, all published"
    );
    let m_start = format!(
        "Scale: process start → all {RECORDS} first requests (addresses present before start)"
    );
    let m_change = format!(
        "Scale: one bridge's address change → the last of its {PER_LINK} requests, debounce \
         1 s (default): min / median / p95 / max"
    );
    let m_fast = "Scale: most requests open at once at the provider, answering at once".to_string();
    let m_slow = format!(
        "Scale: most requests open at once, slow provider ({} s a reply), bridges changed \
         together",
        SLOW_REPLY.as_secs()
    );
    let t_rss = "≤ 4 MiB";
    let t_change = format!("every change ≤ {}", fmt_dur(change_limit));
    let t_cap = "≤ 8 (the daemon's cap, MAX_IN_FLIGHT)";
    let s = match res {
        Ok(s) => s,
        Err(e) => {
            errors(
                t,
                e,
                &[
                    (m_rss, t_rss),
                    (m_start, ""),
                    (m_change, &t_change),
                    (m_fast, t_cap),
                    (m_slow, t_cap),
                ],
            );
            return;
        }
    };
    let cell = format!(
        "{} (VmHWM {}; {} thread(s))",
        mib(s.rss_kib),
        mib(s.hwm_kib),
        s.threads
    );
    let ok = t.judge(s.rss_kib <= TARGET_SCALE_RSS_KIB);
    t.rows.push(Row::new(m_rss, cell).target(t_rss, ok));

    let cell = format!(
        "the last at {} (the first at {}); each record once, with its bridge's address",
        fmt_dur(s.startup_last),
        fmt_dur(s.startup_first)
    );
    t.rows.push(Row::new(m_start, cell).target("", None));

    let row = match (stats(&s.change_last), stats(&s.change_first)) {
        (Some(last), Some(first)) => {
            let cell = format!(
                "{}; the first of the {PER_LINK}: median {}",
                fmt_stats(&last),
                fmt_dur(first.median)
            );
            let ok = t.judge(last.max <= change_limit);
            Row::new(m_change, cell).target(t_change, ok)
        }
        _ => Row::new(m_change, "no change measured").target(t_change, t.judge(false)),
    };
    t.rows.push(row);

    let cell = format!(
        "{} during start-up ({RECORDS} requests); {} during the {} single-bridge changes",
        s.startup_open_max,
        s.changes_open_max,
        s.change_last.len()
    );
    let ok = t.judge(s.startup_open_max.max(s.changes_open_max) <= CAP);
    t.rows.push(Row::new(m_fast, cell).target(t_cap, ok));

    let waves = s.slow_requests.div_ceil(CAP) as u32;
    let cell = format!(
        "{} open at most; {} bridges changed, {} requests all answered {} after the last \
         change (at best {} + {waves} waves × {} s = {}); the gauge read {} for {GAUGE_CLIENTS} \
         test clients at once",
        s.slow_open_max,
        s.slow_links,
        s.slow_requests,
        fmt_dur(s.slow_span),
        fmt_dur(DEBOUNCE),
        SLOW_REPLY.as_secs(),
        fmt_dur(DEBOUNCE + SLOW_REPLY * waves),
        s.gauge_check
    );
    let ok = t.judge(s.slow_open_max <= CAP);
    t.rows.push(Row::new(m_slow, cell).target(t_cap, ok));
}

/// Announcement → request per debounce, then gateway mode's idle cost.
pub(super) fn gateway(t: &mut Table, r: &Results) {
    for (debounce, res) in &r.gateway {
        let metric = format!(
            "Gateway (real miniupnpd, `ipv4_source = \"gateway\"`): announcement → request, \
             {}: min / median / p95 / max",
            debounce_label(*debounce)
        );
        let limit = *debounce + TARGET_SLACK;
        let target = format!("p95 ≤ {}", fmt_dur(limit));
        let row = match res {
            Ok(g) => match stats(&g.samples) {
                Some(st) => {
                    let mut cell = format!(
                        "{} ({}–{} announcements per change, within {} µs; t0 the kernel's \
                         arrival stamp, read up to {:.1} ms later; answered via {})",
                        fmt_stats(&st),
                        g.per_change.0,
                        g.per_change.1,
                        g.spread.as_micros(),
                        g.read_lag.as_secs_f64() * 1e3,
                        if g.via.is_empty() {
                            "?".to_string()
                        } else {
                            g.via.join(", ")
                        }
                    );
                    if g.late_t0 > 0 {
                        cell.push_str(&format!(
                            "; {} sample(s) at 0: our listener stamped after the provider",
                            g.late_t0
                        ));
                    }
                    let ok = t.judge(st.p95 <= limit);
                    Row::new(metric, cell).target(target, ok)
                }
                None => Row::new(metric, "no sample").target(target, t.judge(false)),
            },
            Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
        };
        t.rows.push(row);
    }
    // The idle window ran once, in the run that was given one.
    let Some(res) = r
        .gateway
        .iter()
        .find(|(d, _)| !d.is_zero())
        .map(|(_, res)| res.as_ref().map(|g| g.idle.clone()))
    else {
        return;
    };
    let safety = format!(
        "the safety query every {} min is longer than the window",
        SAFETY_INTERVAL.as_secs() / 60
    );
    let t_wake = format!("0 ({safety})");
    let t_cpu = "0 ms";
    let t_rss = "≤ 3 MiB";
    let idle: Idle = match res {
        Ok(Some(i)) => i,
        Ok(None) => return,
        Err(e) => {
            errors(
                t,
                e,
                &[
                    ("Gateway mode: idle wake-ups".into(), &t_wake),
                    ("Gateway mode: idle CPU".into(), t_cpu),
                    ("Gateway mode: idle VmRSS".into(), t_rss),
                ],
            );
            return;
        }
    };
    let window = idle.window.as_secs_f64();
    let cell = format!(
        "{} voluntary, {} nonvoluntary; {} thread(s){}; {} request(s)",
        idle.voluntary,
        idle.nonvoluntary,
        idle.threads,
        if idle.threads_changed {
            ", thread set changed"
        } else {
            ""
        },
        idle.requests
    );
    let ok = t.judge(idle.voluntary + idle.nonvoluntary == 0 && idle.requests == 0);
    t.rows.push(
        Row::new(
            format!(
                "Gateway mode: idle wake-ups over {window:.0} s after the last update \
                 (context switches, all threads)"
            ),
            cell,
        )
        .target(t_wake, ok),
    );
    let cell = format!(
        "{:.0} ms in {window:.0} s; on-CPU {:.3} ms",
        idle.cpu_ms,
        idle.run_ns as f64 / 1e6
    );
    let ok = t.judge(idle.cpu_ms == 0.0 && idle.run_ns == 0);
    t.rows.push(
        Row::new(
            format!("Gateway mode: idle CPU (utime+stime) over {window:.0} s"),
            cell,
        )
        .target(t_cpu, ok),
    );
    let ok = t.judge(idle.rss_kib <= TARGET_RSS_KIB);
    t.rows
        .push(Row::new("Gateway mode: idle VmRSS", mib(idle.rss_kib)).target(t_rss, ok));
}

/// Change → visible per debounce, then the verification's cost per update.
pub(super) fn verify(t: &mut Table, r: &Results) {
    for (on, debounce, res) in r.verify.iter().filter(|(on, _, _)| *on) {
        debug_assert!(*on);
        let metric = format!(
            "Verify (real BIND, each update applied at once by nsupdate): address change → \
             the authoritative server answers the new address, {}: min / median / p95 / max",
            debounce_label(*debounce)
        );
        let limit = *debounce + TARGET_VERIFY_SLACK;
        let target = format!("p95 ≤ {}", fmt_dur(limit));
        let row = match res {
            Ok(v) => match (stats(&v.visible), stats(&v.applied)) {
                (Some(st), Some(applied)) => {
                    let cell = format!(
                        "{} (of which the provider's nsupdate until BIND answers: median {})",
                        fmt_stats(&st),
                        fmt_dur(applied.median)
                    );
                    let ok = t.judge(st.p95 <= limit);
                    Row::new(metric, cell).target(target, ok)
                }
                _ => Row::new(metric, "no sample").target(target, t.judge(false)),
            },
            Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
        };
        t.rows.push(row);
    }
    let find = |on: bool| {
        r.verify
            .iter()
            .find(|(o, d, _)| *o == on && d.is_zero())
            .map(|(_, _, res)| res)
    };
    let (Some(on), Some(off)) = (find(true), find(false)) else {
        return;
    };
    let metric = "Verify: dynhost's cost per update, `debounce = \"0s\"`, from just before the \
                  change until \"visible in DNS\" is logged (or 1.5 s after the request): \
                  verification on vs `verify.enabled = false` (median per update)";
    let row = match (on, off) {
        (Ok(on), Ok(off)) => Row::new(metric, cost_cell(on, off)),
        (Err(e), _) | (_, Err(e)) => Row::new(metric, err_cell(e)),
    };
    t.rows.push(row.target("", None));
}

/// API mode: change → visible at `debounce = "0s"`.
pub(super) fn api(t: &mut Table, r: &Results) {
    let Some(res) = &r.api else { return };
    let metric = "API mode (`provider = \"ovh-api\"`, the fake OVH API on loopback, real BIND \
                  updated at each zone refresh): address change → the authoritative server \
                  answers the new address, `debounce = \"0s\"`: min / median / p95 / max";
    let limit = TARGET_VERIFY_SLACK;
    let target = format!("p95 ≤ {}", fmt_dur(limit));
    let row = match res {
        Ok(a) => match (stats(&a.visible), stats(&a.applied)) {
            (Some(st), Some(applied)) => {
                let cell = format!(
                    "{} (of which the refresh's nsupdate until BIND answers: median {}; {} API \
                     calls per change)",
                    fmt_stats(&st),
                    fmt_dur(applied.median),
                    a.calls
                );
                let ok = t.judge(st.p95 <= limit);
                Row::new(metric, cell).target(target, ok)
            }
            _ => Row::new(metric, "no sample").target(target, t.judge(false)),
        },
        Err(e) => Row::new(metric, err_cell(e)).target(target, t.judge(false)),
    };
    t.rows.push(row);
}

fn cost_cell(on: &VerifyRun, off: &VerifyRun) -> String {
    let run_us = |c: &[Cost]| median_u64(c.iter().map(|c| c.run_ns)) as f64 / 1e3;
    let switches = |c: &[Cost]| median_u64(c.iter().map(Cost::switches));
    let ticks = |c: &[Cost]| c.iter().map(|c| c.cpu_ms).sum::<f64>();
    let logged = stats(&on.logged).map_or("?".into(), |s| fmt_dur(s.median));
    let (on_us, off_us) = (run_us(&on.costs), run_us(&off.costs));
    let (on_cs, off_cs) = (switches(&on.costs), switches(&off.costs));
    format!(
        "on: {on_us:.0} µs on-CPU, {on_cs} context switches; off: {off_us:.0} µs, {off_cs} \
         switches; the check adds {:.0} µs and {} wake-up(s) per update (n={} and {}; \
         utime+stime in all: {:.0} ms on, {:.0} ms off; \"visible in DNS\" logged {logged} \
         after the request, median: the first check waits 1 s; windows of {} median; \
         {} thread(s) at most)",
        on_us - off_us,
        on_cs as i64 - off_cs as i64,
        on.costs.len(),
        off.costs.len(),
        ticks(&on.costs),
        ticks(&off.costs),
        fmt_dur(Duration::from_nanos(median_u64(
            on.costs.iter().map(|c| c.window.as_nanos() as u64)
        ))),
        on.threads.max(off.threads)
    )
}
