//! The Markdown table on stdout: a row per metric with dynhost's cell, a cell per peer,
//! the target and the verdict, then the machine. `rows` builds the groups of rows;
//! `more` those of the scale, gateway and verify scenarios, which follow.

mod more;
mod rows;

use std::fmt::Write as _;
use std::time::Duration;

use crate::elf::Elf;
use crate::host::{Versions, machine};
use crate::opts::Opts;
use crate::peers::{Peer, PeerResult};
use crate::scenarios::api::ApiRun;
use crate::scenarios::flap::Flap;
use crate::scenarios::gateway::GatewayRun;
use crate::scenarios::idle::DynIdle;
use crate::scenarios::latency::Latency;
use crate::scenarios::scale::Scale;
use crate::scenarios::startup::Startup;
use crate::scenarios::storm::Storm;
use crate::scenarios::verify::VerifyRun;
use crate::stats::Stats;
use crate::wan::Link;

/// Targets.
pub const TARGET_SLACK: Duration = Duration::from_millis(50);
/// Issue 22: a PPP reconnect whose ip-up hook vouches for the address.
pub const TARGET_PPP_HOOK: Duration = Duration::from_millis(50);
pub const TARGET_RSS_KIB: u64 = 3 * 1024;
pub const TARGET_HWM_KIB: u64 = 4 * 1024;
pub const TARGET_SIZE: u64 = 3 * 1024 * 1024;
/// Issue 24: a container image, compressed, per architecture.
pub const TARGET_IMAGE: u64 = 4_000_000;
pub const TARGET_STORM_NS: f64 = 20_000.0;
/// Issue 10 (scale): idle memory with 100 records; the last of one bridge's requests.
pub const TARGET_SCALE_RSS_KIB: u64 = 4 * 1024;
pub const TARGET_SCALE_SLACK: Duration = Duration::from_millis(500);
/// Issue 11 (verify): change → the authoritative server answers, beyond the debounce.
pub const TARGET_VERIFY_SLACK: Duration = Duration::from_millis(150);

#[derive(Default)]
pub struct Results {
    pub sizes: Vec<(String, Result<Elf, String>)>,
    /// (link, debounce, result)
    pub latency: Vec<(Link, Option<Duration>, Result<Latency, String>)>,
    pub v6_noise: Option<Result<Vec<Duration>, String>>,
    /// PPP reconnect with the ip-up hook: address → request.
    pub ppp_hook: Option<Result<Vec<Duration>, String>>,
    pub flap: Option<Result<Flap, String>>,
    pub storm: Option<Result<Storm, String>>,
    pub startup: Option<Result<Startup, String>>,
    pub idle: Option<Result<DynIdle, String>>,
    pub peers: Vec<(Peer, Result<PeerResult, String>)>,
    pub scale: Option<Result<Scale, String>>,
    /// (debounce, result)
    pub gateway: Vec<(Duration, Result<GatewayRun, String>)>,
    /// (verification on, debounce, result)
    pub verify: Vec<(bool, Duration, Result<VerifyRun, String>)>,
    /// API mode (issue 23).
    pub api: Option<Result<ApiRun, String>>,
}

struct Row {
    metric: String,
    dynhost: String,
    peers: Vec<String>,
    target: String,
    verdict: String,
}

impl Row {
    fn new(metric: impl Into<String>, dynhost: impl Into<String>) -> Row {
        Row {
            metric: metric.into(),
            dynhost: dynhost.into(),
            peers: Vec::new(),
            target: String::new(),
            verdict: String::new(),
        }
    }

    fn target(mut self, target: impl Into<String>, ok: Option<bool>) -> Row {
        self.target = target.into();
        self.verdict = ok.map_or("—".to_string(), verdict);
        self
    }
}

/// The rows so far, and whether every target judged so far was met.
struct Table<'a> {
    rows: Vec<Row>,
    all_pass: bool,
    peers: &'a [(Peer, Result<PeerResult, String>)],
}

impl Table<'_> {
    /// Counts `ok` towards the verdict of the run; the row's verdict.
    fn judge(&mut self, ok: bool) -> Option<bool> {
        self.all_pass &= ok;
        Some(ok)
    }

    /// One cell per peer: `f` of its result, or its error.
    fn peer_cells(&self, f: &dyn Fn(&PeerResult) -> String) -> Vec<String> {
        self.peers
            .iter()
            .map(|(_, res)| match res {
                Ok(p) => f(p),
                Err(e) => err_cell(e),
            })
            .collect()
    }
}

/// The table, and whether every target was met.
pub fn render(r: &Results, opts: &Opts, versions: &Versions, elapsed: Duration) -> (String, bool) {
    let mut t = Table {
        rows: Vec::new(),
        all_pass: true,
        peers: &r.peers,
    };
    rows::latency(&mut t, r);
    rows::flap(&mut t, r);
    rows::startup(&mut t, r);
    rows::idle(&mut t, r, opts);
    rows::storm(&mut t, r, opts);
    rows::sizes(&mut t, r);
    if opts.wants("sizes") {
        rows::images(&mut t, opts);
    }
    rows::mapped(&mut t, r);
    more::scale(&mut t, r);
    more::gateway(&mut t, r);
    more::verify(&mut t, r);
    more::api(&mut t, r);
    let rows = t.rows;

    let mut out = String::new();
    let mut header = vec![format!("dynhost ({})", versions.dynhost)];
    header.extend(r.peers.iter().map(|(p, _)| p.header(versions)));
    writeln!(
        out,
        "| Metric | {} | Target | Verdict |",
        header.join(" | ")
    )
    .unwrap();
    writeln!(out, "|---|{}---|---|", "---|".repeat(header.len())).unwrap();
    for row in &rows {
        let mut cells = vec![row.dynhost.clone()];
        for i in 0..r.peers.len() {
            cells.push(row.peers.get(i).cloned().unwrap_or_else(|| "—".into()));
        }
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.metric,
            cells.join(" | "),
            if row.target.is_empty() {
                "—"
            } else {
                &row.target
            },
            if row.verdict.is_empty() {
                "—"
            } else {
                &row.verdict
            }
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nMachine: {}. Run took {:.1} min.",
        machine(),
        elapsed.as_secs_f64() / 60.0
    )
    .unwrap();
    (out, t.all_pass)
}

pub fn fmt_stats(st: &Stats) -> String {
    if st.max >= Duration::from_secs(10) {
        let s = |d: Duration| format!("{:.1}", d.as_secs_f64());
        format!(
            "{} / {} / {} / {} s (n={})",
            s(st.min),
            s(st.median),
            s(st.p95),
            s(st.max),
            st.n
        )
    } else {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
        format!(
            "{} / {} / {} / {} ms (n={})",
            ms(st.min),
            ms(st.median),
            ms(st.p95),
            ms(st.max),
            st.n
        )
    }
}

pub fn fmt_dur(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

pub fn mib(kib: u64) -> String {
    format!("{:.2} MiB ({kib} KiB)", kib as f64 / 1024.0)
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> String {
    if ok { "PASS" } else { "FAIL" }.to_string()
}

pub fn err_cell(e: &str) -> String {
    format!("error: {}", e.replace('|', "/"))
}
